"""Write deploy/iam-policy.json from the pipeline role in deploy/cloudformation.yaml (the one source).

Usage: python deploy/render_iam_policy.py [--check]   (--check: exit 1 if the JSON file is out of date)
"""

import json
import re
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
TEMPLATE = DEPLOY / "cloudformation.yaml"
POLICY_FILE = DEPLOY / "iam-policy.json"
ROLE = "PipelineRole"

# What each template name stands for in the JSON, for people who attach the policy to a role of their own.
PLACEHOLDERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "REGION",
    "AWS::AccountId": "ACCOUNT_ID",
    "BucketName": "HC_S3_BUCKET",
    "Prefix": "HC_S3_PREFIX",
    "DatabaseName": "HC_ATHENA_DATABASE",
    "WorkGroupName": "HC_ATHENA_WORKGROUP",
    "AlertsTopic": "arn:aws:sns:REGION:ACCOUNT_ID:HC_SNS_TOPIC",
    "LandingEventsQueue.Arn": "arn:aws:sqs:REGION:ACCOUNT_ID:HC_S3_EVENT_QUEUE",
}


class TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (`!Ref`, `!Sub`, `!GetAtt`, ...) read as their long forms."""


def _intrinsic(loader: TemplateLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=TemplateLoader)


def with_placeholders(value):
    """A policy value with Ref/Sub/GetAtt replaced by the placeholder names of the JSON file."""
    if isinstance(value, list):
        return [with_placeholders(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return PLACEHOLDERS[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        return PLACEHOLDERS[".".join(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: PLACEHOLDERS[m.group(1)], value["Fn::Sub"])
    return {k: with_placeholders(v) for k, v in value.items()}


def role_policy(template: dict) -> dict:
    """The pipeline role's inline policy document, as the template declares it (intrinsics unresolved)."""
    (policy,) = template["Resources"][ROLE]["Properties"]["Policies"]
    return policy["PolicyDocument"]


def rendered_policy(template: dict) -> str:
    return json.dumps(with_placeholders(role_policy(template)), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = rendered_policy(load_template())
    if "--check" in argv:
        if POLICY_FILE.read_text(encoding="utf-8") != text:
            print(
                f"{POLICY_FILE} differs from {TEMPLATE.name}: run python deploy/render_iam_policy.py", file=sys.stderr
            )
            return 1
        return 0
    POLICY_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {POLICY_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
