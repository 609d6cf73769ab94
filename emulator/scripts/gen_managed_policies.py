"""Regenerates emulator/data/aws-managed-policies.txt: every AWS managed policy as `path name`.

The list comes from moto's snapshot of AWS's managed policies (moto is installed in the
project's .venv by scripts/install-referees):

    .venv/bin/python emulator/scripts/gen_managed_policies.py > emulator/data/aws-managed-policies.txt
"""

import json

import moto
import moto.iam.aws_managed_policies as managed

policies = json.loads(managed.aws_managed_policies_data)
print(f"# AWS managed policies (path name), from moto {moto.__version__}; regenerate with")
print("# emulator/scripts/gen_managed_policies.py")
for name in sorted(policies):
    print(f"{policies[name]['Path']} {name}")
