"""Existing Lambda projects on disk, as users bring them: a SAM project (template.yaml with
Globals, Parameters, Conditions, Mappings, a layer and every supported event) and a CDK app's
``cdk.out`` (what ``cdk synth`` writes: a manifest, a stack template, asset folders)."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

RUNTIME = f"python3.{sys.version_info.minor}"

ITEMS = """
import json, os
import shared

def handler(event, context):
    seen = {
        "stage": os.environ["STAGE"],
        "table": os.environ["TABLE"],
        "queue_url": os.environ["QUEUE_URL"],
        "queue_arn": os.environ["QUEUE_ARN"],
        "joined": os.environ["JOINED"],
        "first": os.environ["FIRST"],
        "layer": shared.VALUE,
        "memory": context.memory_limit_in_mb,
        "version": event.get("version"),
        "path_id": (event.get("pathParameters") or {}).get("id"),
        "method": event.get("httpMethod"),
    }
    return {"statusCode": 200, "body": json.dumps(seen)}
"""

SAM_TEMPLATE = """\
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Description: a realistic SAM app

Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]

Conditions:
  IsProd: !Equals [!Ref Stage, prod]

Mappings:
  Sizes:
    dev: {Memory: 256}
    prod: {Memory: 1024}

Globals:
  Function:
    Runtime: RUNTIME
    Timeout: 10
    Environment:
      Variables:
        STAGE: !Ref Stage

Resources:
  Common:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/common

  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt JobsDlq.Arn
        maxReceiveCount: 3
  JobsDlq:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-jobs-dlq"

  Outbox:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${Stage}-outbox"
      VisibilityTimeout: 45

  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${Stage}-alerts"

  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${Stage}-uploads"

  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/items
      Handler: app.handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      Layers:
        - !Ref Common
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 2
      Environment:
        Variables:
          TABLE: !If [IsProd, prod-table, !Sub "${Stage}-table"]
          QUEUE_URL: !Ref Jobs
          QUEUE_ARN: !GetAtt Jobs.Arn
          JOINED: !Join ["-", [a, !Ref Stage, c]]
          FIRST: !Select [1, !Split [",", "x,y,z"]]
      Events:
        GetItem:
          Type: Api
          Properties:
            Path: /items/{id}
            Method: get
        PostItem:
          Type: HttpApi
          Properties:
            Path: /items
            Method: POST
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Alert:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: suffix
                    Value: .jpg
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(1 day)
            Input: '{"job": "nightly"}'
        Weekly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 12 ? * MON *)
            State: DISABLED
        Stream:
          Type: Kinesis
          Properties:
            Stream: arn:aws:kinesis:us-east-1:123456789012:stream/clicks
            StartingPosition: LATEST

  InlineRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}

  InlineFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub "${Stage}-inline"
      Runtime: RUNTIME
      Handler: index.handler
      Role: !GetAtt InlineRole.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return {"inline": True, "got": event}
      DeadLetterConfig:
        TargetArn: !GetAtt JobsDlq.Arn

  ZippedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: dist/zipped.zip
      Handler: main.handler
      EphemeralStorage:
        Size: 1024
      ReservedConcurrentExecutions: 2
""".replace("RUNTIME", RUNTIME)


def make_sam_project(root: Path) -> Path:
    """A SAM project at ``root``: template.yaml, code folders, a layer and a zip."""
    (root / "src" / "items").mkdir(parents=True)
    (root / "src" / "items" / "app.py").write_text(ITEMS.lstrip())
    (root / "layers" / "common" / "python").mkdir(parents=True)
    (root / "layers" / "common" / "python" / "shared.py").write_text('VALUE = "from the layer"\n')
    (root / "dist").mkdir()
    with zipfile.ZipFile(root / "dist" / "zipped.zip", "w") as archive:
        archive.writestr(
            "main.py",
            "def handler(event, context):\n    return {'zipped': True}\n",
        )
    (root / "template.yaml").write_text(SAM_TEMPLATE)
    return root


CDK_HANDLER = """
import os
def handler(event, context):
    return {"cdk": True, "queue": os.environ["QUEUE_URL"], "records": len(event.get("Records", []))}
"""


def cdk_stack_template() -> dict:
    """What `cdk synth` writes for a stack with a function, a queue and an SQS event source."""
    role = "HandlerServiceRoleFCDC14AE"
    return {
        "Resources": {
            role: {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Statement": []}},
            },
            "JobsQueue6D8C7E3C": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"VisibilityTimeout": 30},
                "UpdateReplacePolicy": "Delete",
            },
            "Handler886CB40B": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {
                        "S3Bucket": {
                            "Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
                        },
                        "S3Key": "3f1c0a.zip",
                    },
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": [role, "Arn"]},
                    "Runtime": RUNTIME,
                    "Environment": {"Variables": {"QUEUE_URL": {"Ref": "JobsQueue6D8C7E3C"}}},
                },
                "DependsOn": [role],
                "Metadata": {
                    "aws:cdk:path": "AppStack/Handler/Resource",
                    "aws:asset:path": "asset.3f1c0a",
                    "aws:asset:is-bundled": False,
                    "aws:asset:property": "Code",
                },
            },
            "HandlerSqsEventSourceAppStackJobsQueue1E4F2B3A": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Handler886CB40B"},
                    "EventSourceArn": {"Fn::GetAtt": ["JobsQueue6D8C7E3C", "Arn"]},
                    "BatchSize": 3,
                },
            },
            "CDKMetadata": {
                "Type": "AWS::CDK::Metadata",
                "Properties": {"Analytics": "v2:deflate64:H4sIAAAA"},
                "Condition": "CDKMetadataAvailable",
            },
        },
        "Conditions": {
            "CDKMetadataAvailable": {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
                ]
            }
        },
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
    }


def make_cdk_out(root: Path) -> Path:
    """``root/cdk.out`` as `cdk synth` leaves it."""
    out = root / "cdk.out"
    (out / "asset.3f1c0a").mkdir(parents=True)
    (out / "asset.3f1c0a" / "index.py").write_text(CDK_HANDLER.lstrip())
    (out / "AppStack.template.json").write_text(json.dumps(cdk_stack_template(), indent=1))
    manifest = {
        "version": "36.0.0",
        "artifacts": {
            "AppStack.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": "AppStack.assets.json"},
            },
            "AppStack": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "AppStack.template.json"},
            },
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out
