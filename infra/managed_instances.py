#!/usr/bin/env python3
"""The Lambda Managed Instances (LMI) variant of template.yaml, and its offline check.

    managed_instances.py render [--output PATH]     write the LMI template (default:
                                                     template-lmi.yaml next to template.yaml)
    managed_instances.py check --output DIR          render it into DIR, translate it through
                                                     SAM's translator with example parameter
                                                     values, write DIR/template-lmi.translated.json
                                                     (cfn-lint it afterwards) and check that every
                                                     function runs on the capacity provider

Why a second template rather than a condition in template.yaml: SAM (1.170, translator
1.109) does not accept an intrinsic around a function's CapacityProviderConfig. `!If [Cond,
{Arn: ...}, !Ref AWS::NoValue]`, in Globals or on a function, fails its model ("Invalid
CapacityProviderConfig: Arn field required; Fn::If extra fields not permitted"), with or
without AWS::LanguageExtensions; `Arn: !If [...]` inside it passes SAM but leaves classic
functions with a LambdaManagedInstancesCapacityProviderConfig lacking its required
CapacityProviderArn (cfn-lint E3003). Twin functions under opposite conditions are refused
too ("API method defined multiple times"). So template.yaml stays the one classic source and
this script derives the LMI template from it, mechanically:

- a capacity provider (AWS::Lambda::CapacityProvider) on the given subnets and security
  groups, arm64 instances like the functions, scaling capped at ManagedInstancesMaxVCpuCount
  vCPUs, and its operator role (AWSLambdaManagedEC2ResourceOperator, assumed by Lambda), as
  SAM's AWS::Serverless::CapacityProvider would generate them; written out because cfn-lint
  1.58's schema of the SAM type has no Arn attribute (`!GetAtt` on it fails E1010);
- every function on it (Globals.Function.CapacityProviderConfig), at least 2048 MB
  (ManagedInstancesMemorySize; LMI's minimum), ManagedInstancesMemoryGiBPerVCpu GiB per vCPU,
  at most ManagedInstancesMaxConcurrency invocations per execution environment, and
  ManagedInstancesHashingMaxConcurrency for the argon2 functions (those with
  ReservedConcurrentExecutions in template.yaml: one hash wants a whole vCPU);
- PublishToLatestPublished: the API's integrations call the unqualified function ARN, which
  on LMI invokes $LATEST.PUBLISHED, so every update must publish it again;
- no reserved concurrency (HashingReservedConcurrency and its condition go): on LMI the
  per-environment concurrency and the vCPU cap bound the hashing instead.

Everything else (routes, roles, policies, tables, alarms, outputs) is template.yaml's,
unchanged. Run with the virtual environment's Python.
"""
import argparse
import copy
import json
import logging
import os
import pathlib
import sys

import yaml
from cfnlint.decode import cfn_yaml

import check_access

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAPACITY_PROVIDER = "ManagedInstancesCapacityProvider"
OPERATOR_ROLE = "ManagedInstancesOperatorRole"
LMI_MIN_MEMORY = 2048

PARAMETERS = {
    "ManagedInstancesSubnetIds": {
        "Type": "List<AWS::EC2::Subnet::Id>",
        "Description": (
            "Subnets the capacity provider launches its EC2 instances in (several Availability "
            "Zones). They need a route to DynamoDB, Secrets Manager, SES and CloudWatch Logs: a "
            "NAT gateway or VPC endpoints."
        ),
    },
    "ManagedInstancesSecurityGroupIds": {
        "Type": "List<AWS::EC2::SecurityGroup::Id>",
        "Description": "Security groups of the instances (outbound HTTPS to the AWS endpoints; no inbound needed).",
    },
    "ManagedInstancesMaxConcurrency": {
        "Type": "Number",
        "Default": 16,
        "MinValue": 1,
        "MaxValue": 1600,
        "Description": (
            "Invocations one execution environment serves at once (AWS_LAMBDA_MAX_CONCURRENCY; "
            "the functions run them concurrently in one process). Token checks and DynamoDB "
            "calls are I/O-bound."
        ),
    },
    "ManagedInstancesHashingMaxConcurrency": {
        "Type": "Number",
        "Default": 2,
        "MinValue": 1,
        "MaxValue": 1600,
        "Description": (
            "Invocations at once per execution environment of the argon2 functions (register, "
            "login, users, me, password, graphql_system, tfa): each hash is CPU-bound, so more "
            "than the environment's vCPUs only makes every hash slower."
        ),
    },
    "ManagedInstancesMemorySize": {
        "Type": "Number",
        "Default": LMI_MIN_MEMORY,
        "MinValue": LMI_MIN_MEMORY,
        "MaxValue": 32768,
        "Description": (
            "Memory (MB) of every function's execution environment; 2048 is LMI's minimum. It "
            "must be at least ManagedInstancesMemoryGiBPerVCpu GiB (one vCPU)."
        ),
    },
    "ManagedInstancesMemoryGiBPerVCpu": {
        "Type": "Number",
        "Default": 2,
        "AllowedValues": [2, 4, 8],
        "Description": "Memory per vCPU of an execution environment: 2 (default) gives 2048 MB one vCPU.",
    },
    "ManagedInstancesMaxVCpuCount": {
        "Type": "Number",
        "Default": 64,
        "MinValue": 2,
        "MaxValue": 15000,
        "Description": (
            "Most vCPUs the capacity provider runs across all its instances (a cap, not a "
            "reservation). Seventeen functions with at least one environment each need 17 at the "
            "default ratio, more with Lambda's default of several environments per function."
        ),
    },
}


def plain(node):
    """cfn-lint's loader returns its own node types; the rest of the tools want plain data."""
    return json.loads(json.dumps(node))


def render(template: dict, code_uri: str = ".") -> dict:
    """The LMI template, from template.yaml's (plain) data."""
    lmi = copy.deepcopy(template)
    lmi["Description"] = (
        template.get("Description", "").rstrip()
        + " This variant runs every function on Lambda Managed Instances (generated from "
        + "template.yaml by infra/managed_instances.py)."
    )

    parameters = lmi["Parameters"]
    parameters.pop("HashingReservedConcurrency", None)
    parameters.update(copy.deepcopy(PARAMETERS))
    lmi["Conditions"].pop("HasHashingReservedConcurrency", None)

    functions = lmi["Globals"]["Function"]
    functions["CodeUri"] = code_uri
    functions["MemorySize"] = {"Ref": "ManagedInstancesMemorySize"}
    functions["CapacityProviderConfig"] = {
        "Arn": {"Fn::GetAtt": [CAPACITY_PROVIDER, "Arn"]},
        "PerExecutionEnvironmentMaxConcurrency": {"Ref": "ManagedInstancesMaxConcurrency"},
        "ExecutionEnvironmentMemoryGiBPerVCpu": {"Ref": "ManagedInstancesMemoryGiBPerVCpu"},
    }
    functions["PublishToLatestPublished"] = True
    architectures = functions["Architectures"]

    resources = {
        # What SAM's AWS::Serverless::CapacityProvider would generate, written out: cfn-lint
        # 1.58's SAM schema gives that type no Arn attribute, so `!GetAtt` on it fails E1010.
        OPERATOR_ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "Lets Lambda launch and manage the capacity provider's EC2 instances",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["lambda.amazonaws.com"]},
                            "Action": ["sts:AssumeRole"],
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"}
                ],
            },
        },
        CAPACITY_PROVIDER: {
            "Type": "AWS::Lambda::CapacityProvider",
            "Properties": {
                "VpcConfig": {
                    "SubnetIds": {"Ref": "ManagedInstancesSubnetIds"},
                    "SecurityGroupIds": {"Ref": "ManagedInstancesSecurityGroupIds"},
                },
                "PermissionsConfig": {"CapacityProviderOperatorRoleArn": {"Fn::GetAtt": [OPERATOR_ROLE, "Arn"]}},
                # The instances run the functions' binaries: the same architecture.
                "InstanceRequirements": {"Architectures": copy.deepcopy(architectures)},
                "CapacityProviderScalingConfig": {
                    "ScalingMode": "Auto",
                    "MaxVCpuCount": {"Ref": "ManagedInstancesMaxVCpuCount"},
                },
            },
        },
    }
    for name, resource in lmi["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource["Properties"]
            # The environment's memory is the parameter's (classic sizes are below LMI's minimum).
            properties.pop("MemorySize", None)
            if properties.pop("ReservedConcurrentExecutions", None) is not None:
                # Merged with Globals' CapacityProviderConfig (Arn and ratio from there).
                properties["CapacityProviderConfig"] = {
                    "PerExecutionEnvironmentMaxConcurrency": {"Ref": "ManagedInstancesHashingMaxConcurrency"}
                }
        resources[name] = resource
    lmi["Resources"] = resources
    return lmi


def write(lmi: dict, path: pathlib.Path) -> None:
    header = (
        "# Generated by infra/managed_instances.py from template.yaml: do not edit, run\n"
        "# `make template-lmi` again. docs/deploy.md, \"Lambda Managed Instances\".\n"
    )
    path.write_text(header + yaml.safe_dump(lmi, sort_keys=False, width=100, allow_unicode=True))


# Example values for the offline translation: any well-formed IDs will do.
EXAMPLE_PARAMETERS = {
    "ManagedInstancesSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    "ManagedInstancesSecurityGroupIds": ["sg-0a1b2c3d4e5f60003"],
}


def translate(sam_template: dict) -> dict:
    """SAM's translator, offline (as `sam validate` runs it, plus parameter values)."""
    import boto3
    from samtranslator.parser import parser

    # The translator records metrics nobody publishes here, and warns about it at exit.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    from samtranslator.translator.translator import Translator

    sam_template = copy.deepcopy(sam_template)
    # As `sam validate` does: the translator wants an S3 location, not a local path.
    sam_template["Globals"]["Function"]["CodeUri"] = "s3://bucket/directus-auth.zip"
    translator = Translator(
        managed_policy_map=None,
        sam_parser=parser.Parser(),
        plugins=[],
        boto_session=boto3.session.Session(region_name="us-east-1"),
    )
    values = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    values.update(EXAMPLE_PARAMETERS)
    return translator.translate(sam_template=sam_template, parameter_values=values, get_managed_policy_map=dict)


def problems_of(classic: dict, lmi: dict, translated: dict) -> list[str]:
    problems = []
    resources = translated["Resources"]
    provider = resources.get(CAPACITY_PROVIDER, {})
    if provider.get("Type") != "AWS::Lambda::CapacityProvider":
        problems.append(f"no AWS::Lambda::CapacityProvider {CAPACITY_PROVIDER}")
    properties = provider.get("Properties", {})
    architectures = classic["Globals"]["Function"]["Architectures"]
    if properties.get("InstanceRequirements", {}).get("Architectures") != architectures:
        problems.append(f"the capacity provider's instances are not {architectures}")
    if properties.get("PermissionsConfig", {}).get("CapacityProviderOperatorRoleArn") != {
        "Fn::GetAtt": [OPERATOR_ROLE, "Arn"]
    }:
        problems.append(f"the capacity provider's operator role is not {OPERATOR_ROLE}")
    role = resources.get(OPERATOR_ROLE, {}).get("Properties", {})
    # The one IAM resource outside the functions' Policies (check_access.py refuses those):
    # Lambda's, with the AWS-managed operator policy and nothing else.
    if set(role) - {"Description", "AssumeRolePolicyDocument", "ManagedPolicyArns"} or len(role.get("ManagedPolicyArns", [])) != 1:
        problems.append(f"{OPERATOR_ROLE} grants more than AWSLambdaManagedEC2ResourceOperator")
    principals = [s.get("Principal") for s in role.get("AssumeRolePolicyDocument", {}).get("Statement", [])]
    if principals != [{"Service": ["lambda.amazonaws.com"]}]:
        problems.append(f"{OPERATOR_ROLE} is assumable by {principals}, not only by Lambda")
    if not any(
        json.dumps(arn).endswith(':policy/AWSLambdaManagedEC2ResourceOperator"}') for arn in role.get("ManagedPolicyArns", [])
    ):
        problems.append("the operator role lacks AWSLambdaManagedEC2ResourceOperator")

    classic_function_names = [
        name for name, r in classic["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"
    ]
    hashing = {
        name for name in classic_function_names if "ReservedConcurrentExecutions" in classic["Resources"][name]["Properties"]
    }
    expected_arn = {"Fn::GetAtt": [CAPACITY_PROVIDER, "Arn"]}
    lambda_functions = {n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    if lambda_functions != set(classic_function_names):
        problems.append(f"functions differ: {sorted(lambda_functions ^ set(classic_function_names))}")
    for name in sorted(lambda_functions):
        function = resources[name]["Properties"]
        config = function.get("CapacityProviderConfig", {}).get("LambdaManagedInstancesCapacityProviderConfig", {})
        if config.get("CapacityProviderArn") != expected_arn:
            problems.append(f"{name} does not run on {CAPACITY_PROVIDER}")
        concurrency = "ManagedInstancesHashingMaxConcurrency" if name in hashing else "ManagedInstancesMaxConcurrency"
        if config.get("PerExecutionEnvironmentMaxConcurrency") != {"Ref": concurrency}:
            problems.append(f"{name}'s concurrency per environment is not {concurrency}")
        if config.get("ExecutionEnvironmentMemoryGiBPerVCpu") != {"Ref": "ManagedInstancesMemoryGiBPerVCpu"}:
            problems.append(f"{name}'s memory per vCPU is not ManagedInstancesMemoryGiBPerVCpu")
        if function.get("MemorySize") != {"Ref": "ManagedInstancesMemorySize"}:
            problems.append(f"{name}'s MemorySize is not ManagedInstancesMemorySize (LMI needs >= {LMI_MIN_MEMORY})")
        if function.get("Architectures") != architectures:
            problems.append(f"{name} is not {architectures}, as the instances are")
        if function.get("PublishToLatestPublished") is not True:
            problems.append(f"{name} does not publish $LATEST.PUBLISHED on update")
        # SAM refuses these with CapacityProviderConfig; reserved concurrency is left out on purpose.
        for absent in ("VpcConfig", "ReservedConcurrentExecutions"):
            if absent in function:
                problems.append(f"{name} has {absent}")

    # The functions' DynamoDB grants are exactly infra/dynamodb-access.json's, as in template.yaml.
    functions_only = copy.deepcopy(lmi)
    del functions_only["Resources"][OPERATOR_ROLE]
    problems.extend(check_access.template_problems(functions_only))

    # The API calls the functions unqualified: on LMI that is $LATEST.PUBLISHED. No alias or
    # version resource may sneak in (their ARNs would need their own permissions).
    for name, resource in resources.items():
        if resource["Type"] in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            problems.append(f"unexpected {resource['Type']} {name}")
    body = json.dumps(resources.get("Api", {}).get("Properties", {}).get("Body", {}))
    for name in sorted(lambda_functions):
        if f"${{{name}.Arn}}" not in body:
            problems.append(f"no API integration calls {name}'s unqualified ARN")

    # Nothing else changed: the same resources as the classic template, plus the capacity
    # provider and its operator role.
    classic_translated = translate(classic)["Resources"]
    added = set(resources) - set(classic_translated)
    missing = set(classic_translated) - set(resources)
    if added != {CAPACITY_PROVIDER, OPERATOR_ROLE} or missing:
        problems.append(f"resources differ from the classic template's: added {sorted(added)}, missing {sorted(missing)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    render_command = commands.add_parser("render", help="write the LMI template")
    render_command.add_argument("--output", type=pathlib.Path, default=ROOT / "template-lmi.yaml")
    check_command = commands.add_parser("check", help="render, translate and check the LMI template")
    check_command.add_argument("--output", type=pathlib.Path, required=True, help="a directory")
    arguments = parser.parse_args()

    classic = plain(cfn_yaml.load(str(ROOT / "template.yaml")))
    if arguments.command == "render":
        output = arguments.output.resolve()
        code_uri = os.path.relpath(ROOT, output.parent)
        write(render(classic, code_uri), output)
        print(f"wrote {output} (CodeUri {code_uri})")
        return 0

    directory = arguments.output.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    template_path = directory / "template-lmi.yaml"
    write(render(classic, os.path.relpath(ROOT, directory)), template_path)
    # Translate what was written (not the dict in memory): the file is what gets deployed.
    lmi = plain(cfn_yaml.load(str(template_path)))
    from samtranslator.public.exceptions import InvalidDocumentException

    try:
        translated = translate(lmi)
    except InvalidDocumentException as error:
        print(f"SAM refuses {template_path}: " + " ".join(str(cause) for cause in error.causes))
        return 1
    translated_path = directory / "template-lmi.translated.json"
    translated_path.write_text(json.dumps(translated, indent=1) + "\n")
    problems = problems_of(classic, lmi, translated)
    if problems:
        print(f"{template_path} is not the LMI deployment it should be:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    functions = sum(1 for r in translated["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    print(
        f"{template_path} translates (SAM, example subnets and security groups) to {translated_path}: "
        f"{functions} functions on {CAPACITY_PROVIDER}, otherwise the classic template's resources"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
