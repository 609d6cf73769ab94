"""Referee: boto3 (AWS's own parsers, paginators and waiters) against the Slipway emulator.

Run by the Rust test `it::boto3`, which starts the emulator and sets EMULATOR_URL. Every
check raises on failure; the last line printed is `boto3 conformance: ok (N checks)`.
"""
import json
import os
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

URL = os.environ["EMULATOR_URL"]
CFG = Config(retries={"max_attempts": 1, "mode": "standard"})
FAST = {"Delay": 0.1, "MaxAttempts": 300}
checks = 0


def client(service):
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1", config=CFG)


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def error_code(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError(f"{fn.__name__} succeeded but an error was expected")


ec2, iam, sts, eks = client("ec2"), client("iam"), client("sts"), client("eks")
tags = [{"Key": "slipway:fleet", "Value": "boto3"}]

# STS
me = sts.get_caller_identity()
check(me["Account"] == "000000000000", "caller account")

# EC2 network
vpc = ec2.create_vpc(
    CidrBlock="10.60.0.0/16",
    TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
)["Vpc"]
vpc_id = vpc["VpcId"]
check(vpc["CidrBlockAssociationSet"][0]["CidrBlock"] == "10.60.0.0/16", "vpc cidr association")
ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
attr = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
check(attr["EnableDnsHostnames"]["Value"] is True, "dns hostnames attribute")
ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id], WaiterConfig=FAST)
found = ec2.describe_vpcs(Filters=[{"Name": "tag:slipway:fleet", "Values": ["boto3"]}])["Vpcs"]
check([v["VpcId"] for v in found] == [vpc_id], "vpc tag filter")
check(error_code(ec2.create_vpc, CidrBlock="10.0.0.0/8") == "InvalidVpc.Range", "vpc range error")

subnets = []
for i, az in enumerate(["us-east-1a", "us-east-1b"]):
    for role in ("public", "private"):
        cidr = f"10.60.{i * 2 + (role == 'private')}.0/24"
        s = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=az,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": tags + [{"Key": "role", "Value": role}]}],
        )["Subnet"]
        subnets.append((role, s["SubnetId"], az))
public = [s for r, s, _ in subnets if r == "public"]
private = [s for r, s, _ in subnets if r == "private"]
check(error_code(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.60.0.0/23") == "InvalidSubnet.Conflict", "subnet overlap")
pages = list(ec2.get_paginator("describe_subnets").paginate(
    Filters=[{"Name": "vpc-id", "Values": [vpc_id]}], PaginationConfig={"PageSize": 5}))
check(sum(len(p["Subnets"]) for p in pages) == 4, "subnet paginator")

# Instance type offerings (what DR standbys check sizes against)
offers = ec2.describe_instance_type_offerings(
    LocationType="region", Filters=[{"Name": "instance-type", "Values": ["m8g.*"]}])["InstanceTypeOfferings"]
check(len(offers) == 7 and all(o["LocationType"] == "region" and o["Location"] == "us-east-1" for o in offers),
      "instance type offerings")
pages = list(ec2.get_paginator("describe_instance_type_offerings").paginate(
    LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": ["m8g.large"]}],
    PaginationConfig={"PageSize": 5}))
check(len(pages) == 2 and sum(len(p["InstanceTypeOfferings"]) for p in pages) == 6, "offerings paginator")

igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
gws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])
check(gws["InternetGateways"][0]["Attachments"][0]["VpcId"] == vpc_id, "igw attachment")
eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
nat = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=eip, ClientToken="nat-1")["NatGateway"]
check(nat["State"] == "pending", "nat pending")
ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nat["NatGatewayId"]], WaiterConfig=FAST)
check(error_code(ec2.release_address, AllocationId=eip) == "InvalidIPAddress.InUse", "eip in use")

public_rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
private_rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
ec2.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"])
for s in public:
    ec2.associate_route_table(RouteTableId=public_rt, SubnetId=s)
for s in private:
    ec2.associate_route_table(RouteTableId=private_rt, SubnetId=s)
rts = ec2.describe_route_tables(RouteTableIds=[private_rt])["RouteTables"][0]
check(any(r.get("NatGatewayId") == nat["NatGatewayId"] and r["State"] == "active" for r in rts["Routes"]), "nat route")
check(len(rts["Associations"]) == 2, "route table associations")

sg = ec2.create_security_group(GroupName="c-cluster", Description="cluster", VpcId=vpc_id)["GroupId"]
rules = ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.60.0.0/16", "Description": "api"}]},
])["SecurityGroupRules"]
check(rules[0]["FromPort"] == 443 and not rules[0]["IsEgress"], "authorize returns rules")
group = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]
check(group["IpPermissions"][0]["IpRanges"][0]["CidrIp"] == "10.60.0.0/16", "sg ingress parsed")
check(group["IpPermissionsEgress"][0]["IpProtocol"] == "-1", "default egress")
all_rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
check(len(all_rules) == 2, "sg rules")

gw_ep = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.s3",
                                VpcEndpointType="Gateway", RouteTableIds=[private_rt])["VpcEndpoint"]
if_ep = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.ecr.api",
                                VpcEndpointType="Interface", SubnetIds=private, SecurityGroupIds=[sg],
                                PrivateDnsEnabled=True, ClientToken="ep-1")["VpcEndpoint"]
check(if_ep["State"] == "pending", "interface endpoint pending")
eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
check({e["VpcEndpointType"] for e in eps} == {"Gateway", "Interface"}, "endpoints listed")
check(error_code(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation", "vpc delete blocked")
tagged = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["slipway:fleet"]}])["Tags"]
check(len(tagged) == 5, "describe_tags")

# IAM
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
role = iam.create_role(RoleName="b3-cluster", AssumeRolePolicyDocument=json.dumps(trust), Tags=tags)["Role"]
iam.attach_role_policy(RoleName="b3-cluster", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
got = iam.get_role(RoleName="b3-cluster")["Role"]
check(got["AssumeRolePolicyDocument"] == trust, "boto3 decodes the URL-encoded trust policy")
node_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
node = iam.create_role(RoleName="b3-nodes", AssumeRolePolicyDocument=json.dumps(node_trust))["Role"]
for p in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"):
    iam.attach_role_policy(RoleName="b3-nodes", PolicyArn=f"arn:aws:iam::aws:policy/{p}")
check(len(iam.list_attached_role_policies(RoleName="b3-nodes")["AttachedPolicies"]) == 3, "attached policies")
iam.put_role_policy(RoleName="b3-nodes", PolicyName="extra", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
check(iam.list_role_policies(RoleName="b3-nodes")["PolicyNames"] == ["extra"], "inline policies")
check(error_code(iam.attach_role_policy, RoleName="b3-nodes", PolicyArn="arn:aws:iam::aws:policy/Nope") == "NoSuchEntity", "unknown policy")
check(error_code(iam.delete_role, RoleName="b3-nodes") == "DeleteConflict", "delete conflict")
try:
    iam.get_role(RoleName="missing")
    raise AssertionError("get_role of a missing role succeeded")
except iam.exceptions.NoSuchEntityException:
    checks += 1

# EKS
cluster = eks.create_cluster(
    name="b3", version="1.34", roleArn=role["Arn"],
    resourcesVpcConfig={"subnetIds": private, "securityGroupIds": [sg], "endpointPrivateAccess": True, "endpointPublicAccess": False},
    accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
    clientRequestToken="b3-token", tags={"slipway:fleet": "boto3"},
)["cluster"]
check(cluster["status"] == "CREATING", "cluster creating")
again = eks.create_cluster(name="b3", version="1.34", roleArn=role["Arn"], resourcesVpcConfig={"subnetIds": private}, clientRequestToken="b3-token")["cluster"]
check(again["arn"] == cluster["arn"], "clientRequestToken idempotency")
eks.get_waiter("cluster_active").wait(name="b3", WaiterConfig=FAST)
described = eks.describe_cluster(name="b3")["cluster"]
check(described["endpoint"].startswith("https://"), "endpoint once active")
check(hasattr(described["createdAt"], "year"), "createdAt parses as a timestamp")
oidc_url = described["identity"]["oidc"]["issuer"]
oidc = iam.create_open_id_connect_provider(Url=oidc_url, ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
check(iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc)["Url"] == oidc_url[len("https://"):], "oidc url")

versions = eks.describe_addon_versions(kubernetesVersion="1.34", addonName="vpc-cni")["addons"][0]["addonVersions"]
default = [v["addonVersion"] for v in versions if any(c["defaultVersion"] for c in v["compatibilities"])]
check(len(default) == 1, "one default add-on version")
eks.create_addon(clusterName="b3", addonName="vpc-cni", resolveConflicts="OVERWRITE")
eks.get_waiter("addon_active").wait(clusterName="b3", addonName="vpc-cni", WaiterConfig=FAST)

ng = eks.create_nodegroup(
    clusterName="b3", nodegroupName="general", nodeRole=node["Arn"], subnets=private,
    scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2}, instanceTypes=["m6i.large"],
    amiType="AL2023_x86_64_STANDARD", labels={"pool": "general"},
    taints=[{"key": "dedicated", "value": "general", "effect": "NO_SCHEDULE"}],
    updateConfig={"maxUnavailable": 1},
)["nodegroup"]
check(ng["status"] == "CREATING", "nodegroup creating")
eks.get_waiter("nodegroup_active").wait(clusterName="b3", nodegroupName="general", WaiterConfig=FAST)
eks.create_addon(clusterName="b3", addonName="coredns")
eks.get_waiter("addon_active").wait(clusterName="b3", addonName="coredns", WaiterConfig=FAST)

entry = eks.create_access_entry(clusterName="b3", principalArn="arn:aws:iam::000000000000:role/admins")["accessEntry"]
check(entry["type"] == "STANDARD", "access entry")
eks.associate_access_policy(clusterName="b3", principalArn=entry["principalArn"],
                            policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                            accessScope={"type": "namespace", "namespaces": ["orders"]})
assoc = eks.list_associated_access_policies(clusterName="b3", principalArn=entry["principalArn"])["associatedAccessPolicies"]
check(assoc[0]["accessScope"]["namespaces"] == ["orders"], "access policy scope")
entries = eks.list_access_entries(clusterName="b3")["accessEntries"]
check(node["Arn"] in entries, "EKS created the node role's access entry")
pia = eks.create_pod_identity_association(clusterName="b3", namespace="orders", serviceAccount="api", roleArn=node["Arn"])["association"]
check(pia["associationId"].startswith("a-"), "pod identity association id")

check(error_code(eks.update_cluster_version, name="b3", version="1.36") == "InvalidParameterException", "one minor at a time")
update = eks.update_cluster_version(name="b3", version="1.35")["update"]
check(eks.describe_update(name="b3", updateId=update["id"])["update"]["status"] == "InProgress", "update in progress")
check(error_code(eks.update_nodegroup_version, clusterName="b3", nodegroupName="general") == "ResourceInUseException", "one update at a time")
eks.get_waiter("cluster_active").wait(name="b3", WaiterConfig=FAST)
check(eks.describe_cluster(name="b3")["cluster"]["version"] == "1.35", "upgraded")
insights = eks.list_insights(clusterName="b3", filter={"categories": ["UPGRADE_READINESS"]})["insights"]
check(any(i["name"] == "Kubelet version skew" and i["insightStatus"]["status"] == "WARNING" for i in insights), "skew insight")
for i in insights:
    detail = eks.describe_insight(clusterName="b3", id=i["id"])["insight"]
    check(detail["id"] == i["id"] and detail["category"] == "UPGRADE_READINESS", "describe_insight " + i["name"])
    check(hasattr(detail["lastRefreshTime"], "year"), "insight timestamps parse as datetimes")
    summary = detail["categorySpecificSummary"]
    check(isinstance(summary.get("deprecationDetails", []), list) and isinstance(summary.get("addonCompatibilityDetails", []), list), "insight summary shape")
eks.update_nodegroup_version(clusterName="b3", nodegroupName="general")
eks.get_waiter("nodegroup_active").wait(clusterName="b3", nodegroupName="general", WaiterConfig=FAST)
check(eks.describe_nodegroup(clusterName="b3", nodegroupName="general")["nodegroup"]["version"] == "1.35", "nodegroup upgraded")

# Teardown in dependency order, with the errors AWS gives when the order is wrong.
try:
    eks.delete_cluster(name="b3")
    raise AssertionError("cluster deleted with a nodegroup attached")
except eks.exceptions.ResourceInUseException:
    checks += 1
eks.delete_nodegroup(clusterName="b3", nodegroupName="general")
eks.get_waiter("nodegroup_deleted").wait(clusterName="b3", nodegroupName="general", WaiterConfig=FAST)
eks.delete_cluster(name="b3")
eks.get_waiter("cluster_deleted").wait(name="b3", WaiterConfig=FAST)
ec2.delete_vpc_endpoints(VpcEndpointIds=[gw_ep["VpcEndpointId"], if_ep["VpcEndpointId"]])
ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
ec2.get_waiter("nat_gateway_deleted").wait(NatGatewayIds=[nat["NatGatewayId"]], WaiterConfig=FAST)
ec2.release_address(AllocationId=eip)
for rt in (public_rt, private_rt):
    for a in ec2.describe_route_tables(RouteTableIds=[rt])["RouteTables"][0]["Associations"]:
        ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
    ec2.delete_route_table(RouteTableId=rt)
ec2.delete_security_group(GroupId=sg)
ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
ec2.delete_internet_gateway(InternetGatewayId=igw)
for _, s, _ in subnets:
    ec2.delete_subnet(SubnetId=s)
# Interface endpoints take a while to go: wait for them to disappear.
import time
for _ in range(200):
    if not ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]:
        break
    time.sleep(0.05)
ec2.delete_vpc(VpcId=vpc_id)
check(error_code(ec2.describe_vpcs, VpcIds=[vpc_id]) == "InvalidVpcID.NotFound", "vpc gone")

print(f"boto3 conformance: ok ({checks} checks, botocore {botocore.__version__})")
sys.exit(0)
