"""deploy/cloudformation.yaml deployed on the moto server, with what moto's CloudFormation skips applied from it.

moto 5.2.5 (server mode) creates AWS::S3::Bucket (encryption and tags only), AWS::SQS::Queue (with its
RedrivePolicy), AWS::SNS::Topic and AWS::IAM::Role (with inline policies) from a stack. It warns and skips
AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy, AWS::Glue::Database and AWS::Athena::WorkGroup, ignores the
bucket's versioning, public access block, ownership, lifecycle and notification properties, and drops the
outputs that reference a skipped resource. Those parts are read from the same template, their intrinsics
resolved against the stack, and applied through the ordinary APIs; `Stack.filled` lists each one.
"""

import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import boto3

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TEMPLATE = DEPLOY / "cloudformation.yaml"
REGION = "us-east-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"}
BUCKET_PROPERTIES_MOTO_IGNORES = (
    "VersioningConfiguration",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "LifecycleConfiguration",
    "NotificationConfiguration",
)


def template_module():
    """deploy/render_iam_policy.py, the one reader of the template's YAML (short intrinsic forms)."""
    spec = importlib.util.spec_from_file_location("render_iam_policy", DEPLOY / "render_iam_policy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Stack:
    """A created stack: its HC_* outputs, its resources' physical ids, and what had to be applied beside moto."""

    outputs: dict[str, str]
    physical: dict[str, str]
    skipped_by_moto: list[str]
    filled: list[str] = field(default_factory=list)


class Resolver:
    """Ref, Fn::GetAtt and Fn::Sub of the template, resolved against the parameters and the created stack."""

    def __init__(self, template: dict, parameters: dict[str, str], physical: dict[str, str], endpoint: str):
        self.template, self.physical, self.endpoint = template, physical, endpoint
        account = boto3.client("sts", endpoint_url=endpoint, region_name=REGION).get_caller_identity()["Account"]
        defaults = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
        self.names = {**defaults, **parameters, **PSEUDO, "AWS::AccountId": account}

    def ref(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        if name in self.physical:
            return self.physical[name]
        properties = self.resolve(self.template["Resources"][name]["Properties"])
        kind = self.template["Resources"][name]["Type"]
        # What a real Ref returns for the types moto does not create: their names.
        return {"AWS::Glue::Database": lambda: properties["DatabaseInput"]["Name"]}.get(
            kind, lambda: properties["Name"]
        )()

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.template["Resources"][name]["Type"]
        if (kind, attribute) == ("AWS::SQS::Queue", "Arn"):
            sqs = boto3.client("sqs", endpoint_url=self.endpoint, region_name=REGION)
            return sqs.get_queue_attributes(QueueUrl=self.physical[name], AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        if (kind, attribute) == ("AWS::S3::Bucket", "Arn"):
            return f"arn:aws:s3:::{self.physical[name]}"
        if (kind, attribute) == ("AWS::IAM::Role", "Arn"):
            iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION)
            return iam.get_role(RoleName=self.physical[name])["Role"]["Arn"]
        raise NotImplementedError(f"Fn::GetAtt {name}.{attribute}")

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            return self.get_att(*value["Fn::GetAtt"])
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), value["Fn::Sub"])
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, name: str) -> str:
        if "." in name and not name.startswith("AWS::"):
            return self.get_att(*name.split(".", 1))
        return self.ref(name)


def create_stack(endpoint: str, name: str, parameters: dict[str, str]) -> Stack:
    """Create the stack from deploy/cloudformation.yaml on moto, then apply what moto's CloudFormation skips."""
    template = template_module().load_template(TEMPLATE)
    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION)
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise AssertionError(f"stack {name}: {described['StackStatus']} {described.get('StackStatusReason')}")
    summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries if r.get("LogicalResourceId")}
    skipped = sorted(set(template["Resources"]) - set(physical))
    stack = Stack({o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}, physical, skipped)

    resolver = Resolver(template, parameters, physical, endpoint)
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::S3::Bucket" and logical in physical:
            _fill_bucket(endpoint, physical[logical], resolver.resolve(resource["Properties"]), stack)
    for logical in skipped:
        resource = template["Resources"][logical]
        fill = FILLERS.get(resource["Type"])
        if fill is None:
            raise NotImplementedError(f"{logical} ({resource['Type']}): moto skipped it and no filler applies it")
        fill(endpoint, resolver.resolve(resource["Properties"]))
        stack.filled.append(f"{logical} ({resource['Type']})")
    for key, output in template["Outputs"].items():
        if key not in stack.outputs:
            stack.outputs[key] = resolver.resolve(output["Value"])
            stack.filled.append(f"output {key}")
    return stack


def _fill_bucket(endpoint: str, bucket: str, properties: dict, stack: Stack) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=properties["VersioningConfiguration"])
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
    )
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=properties["OwnershipControls"])
    rules = []
    for rule in properties["LifecycleConfiguration"]["Rules"]:
        api = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        if "NoncurrentVersionExpiration" in rule:
            days = int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            api["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
        rules.append(api)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    queues = [
        {
            "QueueArn": queue["Queue"],
            "Events": [queue["Event"]],
            "Filter": {"Key": {"FilterRules": queue["Filter"]["S3Key"]["Rules"]}},
        }
        for queue in properties["NotificationConfiguration"]["QueueConfigurations"]
    ]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queues})
    stack.filled.append(f"bucket {', '.join(BUCKET_PROPERTIES_MOTO_IGNORES)}")


def _bucket_policy(endpoint: str, properties: dict) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.put_bucket_policy(Bucket=properties["Bucket"], Policy=json.dumps(properties["PolicyDocument"]))


def _queue_policy(endpoint: str, properties: dict) -> None:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    for url in properties["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])})


def _glue_database(endpoint: str, properties: dict) -> None:
    glue = boto3.client("glue", endpoint_url=endpoint, region_name=REGION)
    glue.create_database(CatalogId=properties["CatalogId"], DatabaseInput=properties["DatabaseInput"])


def _athena_workgroup(endpoint: str, properties: dict) -> None:
    config = dict(properties["WorkGroupConfiguration"])
    config["BytesScannedCutoffPerQuery"] = int(config["BytesScannedCutoffPerQuery"])
    athena = boto3.client("athena", endpoint_url=endpoint, region_name=REGION)
    athena.create_work_group(Name=properties["Name"], Description=properties["Description"], Configuration=config)


FILLERS = {
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::Glue::Database": _glue_database,
    "AWS::Athena::WorkGroup": _athena_workgroup,
}
