#!/usr/bin/env python3
"""Regenerate engine/data/api-lifecycle.csv from a k8s.io/api checkout.

Reads every zz_generated.prerelease-lifecycle.go under --api-dir (the values compiled from the
`+k8s:prerelease-lifecycle-gen` tags: APILifecycleIntroduced / Deprecated / Removed /
Replacement per type), keeps beta versions' top-level kinds that have a removal release, and
merges engine/data/api-lifecycle-guide.csv over them: a non-empty guide cell wins, guide-only rows
are added, and only guide rows may say `removal=actual` (everything else is `planned`).

Standard library only. Example (see docs/scan-data.md):

    git clone --depth 1 --branch v0.34.0 https://github.com/kubernetes/api /tmp/k8s-api
    python3 scripts/gen_api_lifecycle.py --api-dir /tmp/k8s-api --label k8s.io/api@v0.34.0
    python3 scripts/gen_api_lifecycle.py --api-dir /tmp/k8s-api --label k8s.io/api@v0.34.0 --check
"""

import argparse
import csv
import io
import os
import re
import sys

HEADER = [
    "group", "version", "kind", "introduced", "deprecated", "removed", "removal",
    "replacement_api_version", "replacement_kind", "source",
]

PREAMBLE = """\
# Kubernetes API lifecycle: removed (and deprecated) built-in group/version/kinds, one row each.
# Generated rows merged with api-lifecycle-guide.csv; see docs/scan-data.md for sources and refresh.
# removal: actual = the deprecation guide confirms the version stopped being served;
#          planned = only the generator's earliest planned removal (scans report it as deprecated).
# source: "gen <repo>@<commit>" = prerelease-lifecycle-gen values read from zz_generated.prerelease-lifecycle.go;
#         "guide vX.Y" = the deprecation guide's section for that release.
"""

# Types that are not objects anyone writes or lists: subresources and controller bookkeeping.
SKIP_KINDS = {"Scale", "DeploymentRollback", "JobTemplate", "Eviction", "ControllerRevision"}

VERSION_FN = re.compile(
    r"func \(in \*(\w+)\) APILifecycle(Introduced|Deprecated|Removed)\(\) \(major, minor int\) \{\s*"
    r"return (\d+), (\d+)\s*\}"
)
REPLACEMENT_FN = re.compile(
    r"func \(in \*(\w+)\) APILifecycleReplacement\(\) [\w.]*GroupVersionKind \{\s*"
    r"return [\w.]*GroupVersionKind\{Group: \"([^\"]*)\", Version: \"([^\"]*)\", Kind: \"([^\"]*)\"\}"
)
GROUP_NAME = re.compile(r"const GroupName = \"([^\"]*)\"")
BETA = re.compile(r"^v\d+beta\d+$")


def fail(message):
    sys.stderr.write(f"gen_api_lifecycle: {message}\n")
    sys.exit(1)


def group_of(directory):
    """The API group declared in register.go next to the generated file."""
    register = os.path.join(directory, "register.go")
    try:
        with open(register, encoding="utf-8") as f:
            match = GROUP_NAME.search(f.read())
    except OSError as err:
        fail(f"cannot read {register}: {err}")
    if not match:
        fail(f"no `const GroupName` in {register}")
    return match.group(1)


def generated_rows(api_dir, label, include_alpha):
    rows = {}
    for directory, _, files in sorted(os.walk(api_dir)):
        if "zz_generated.prerelease-lifecycle.go" not in files:
            continue
        version = os.path.basename(directory)
        if not (BETA.match(version) or (include_alpha and "alpha" in version)):
            continue
        group = group_of(directory)
        path = os.path.join(directory, "zz_generated.prerelease-lifecycle.go")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        types = {}
        for kind, which, major, minor in VERSION_FN.findall(text):
            types.setdefault(kind, {})[which.lower()] = f"{major}.{minor}"
        for kind, rgroup, rversion, rkind in REPLACEMENT_FN.findall(text):
            api_version = f"{rgroup}/{rversion}" if rgroup else rversion
            types.setdefault(kind, {})["replacement"] = (api_version, rkind)
        for kind, values in types.items():
            if kind.endswith("List") or kind in SKIP_KINDS or "removed" not in values:
                continue
            repl_version, repl_kind = values.get("replacement", ("", ""))
            rows[(group, version, kind)] = {
                "group": group,
                "version": version,
                "kind": kind,
                "introduced": values.get("introduced", ""),
                "deprecated": values.get("deprecated", ""),
                "removed": values["removed"],
                "removal": "planned",
                "replacement_api_version": repl_version,
                "replacement_kind": repl_kind,
                "source": f"gen {label}",
            }
    return rows


def guide_rows(path):
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines)
    if reader.fieldnames != HEADER:
        fail(f"{path}: header must be {','.join(HEADER)}")
    rows = {}
    for row in reader:
        key = (row["group"], row["version"], row["kind"])
        if key in rows:
            fail(f"{path}: duplicate row {key}")
        rows[key] = row
    return rows


def merge(generated, guide):
    merged = dict(generated)
    for key, row in guide.items():
        base = merged.get(key)
        if base is None:
            merged[key] = dict(row)
            continue
        out = dict(base)
        for column in HEADER:
            if column != "source" and row[column]:
                out[column] = row[column]
        out["source"] = f"{base['source']}; {row['source']}"
        merged[key] = out
    return merged


def minor_key(version):
    major, _, minor = version.partition(".")
    return (int(major or 0), int(minor or 0))


def render(rows):
    out = io.StringIO()
    out.write(PREAMBLE)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    ordered = sorted(
        rows.values(),
        key=lambda r: (minor_key(r["removed"]), r["group"], r["version"], r["kind"]),
    )
    for row in ordered:
        for column in HEADER:
            if "," in row[column] or '"' in row[column]:
                fail(f"{row['kind']}: commas and quotes are not allowed in cells ({column})")
        writer.writerow([row[c] for c in HEADER])
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-dir", required=True, help="a k8s.io/api checkout")
    parser.add_argument("--label", required=True, help="source label, e.g. k8s.io/api@v0.34.0")
    parser.add_argument("--guide", default="engine/data/api-lifecycle-guide.csv")
    parser.add_argument("--out", default="engine/data/api-lifecycle.csv")
    parser.add_argument("--include-alpha", action="store_true", help="also alpha versions")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out would change")
    args = parser.parse_args()

    if not os.path.isdir(args.api_dir):
        fail(f"--api-dir {args.api_dir} is not a directory")
    generated = generated_rows(args.api_dir, args.label, args.include_alpha)
    if not generated:
        fail(f"no zz_generated.prerelease-lifecycle.go with removal dates under {args.api_dir}")
    guide = guide_rows(args.guide)
    merged = merge(generated, guide)
    newest_actual = max(
        (minor_key(r["removed"]) for r in merged.values() if r["removal"] == "actual"),
        default=(0, 0),
    )
    for row in merged.values():
        if row["removal"] == "planned" and minor_key(row["removed"]) <= newest_actual:
            sys.stderr.write(
                f"review: {row['group']}/{row['version']} {row['kind']} has a planned removal "
                f"{row['removed']} the guide does not confirm\n"
            )
    text = render(merged)
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = ""
        if current != text:
            sys.stderr.write(f"{args.out} is out of date\n")
            sys.exit(1)
        return
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stderr.write(f"wrote {len(merged)} rows to {args.out}\n")


if __name__ == "__main__":
    main()
