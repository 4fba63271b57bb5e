# Terraform module for eks-iam-sync: the same system as template.yaml (function, IAM events
# rule, schedule, retries and dead-letter queue with alarms, least-privilege IAM, the
# function's own EKS access entries), plus the us-east-1 forwarder of IAM events when the
# function runs in another region, a dedicated event bus accepting the organization's member
# accounts (organization_id; their forwarder is the module in terraform/forwarder), and fleet
# mode (fleet.tf). tests/offline/deploy_templates.rs checks the event pattern.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region

  # config_source (ssm:/name or s3://bucket/key), split for the read permission.
  config_ssm_name  = startswith(var.config_source, "ssm:") ? trimprefix(var.config_source, "ssm:") : null
  config_s3_object = startswith(var.config_source, "s3://") ? trimprefix(var.config_source, "s3://") : null

  # IAM CloudTrail events reach EventBridge only in us-east-1.
  forward_iam_events = local.region != "us-east-1"

  # Every queue refuses requests without TLS: merge in the queue's ARN as `Resource`.
  sqs_tls_only = {
    Sid       = "TlsOnly"
    Effect    = "Deny"
    Principal = "*"
    Action    = "sqs:*"
    Condition = { Bool = { "aws:SecureTransport" = "false" } }
  }

  # Exactly eks_iam_sync::events::IAM_EVENT_NAMES (tests/offline/deploy_templates.rs).
  iam_event_names = [
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "CreateUser",
    "DeleteUser",
    "UpdateUser",
    "DeleteGroup",
    "UpdateGroup",
    "CreateRole",
    "DeleteRole",
  ]

  # Failed calls (with an errorCode) changed nothing in IAM: they are not routed.
  iam_event_pattern = jsonencode({
    source        = ["aws.iam"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["iam.amazonaws.com"]
      eventName   = local.iam_event_names
      errorCode   = [{ exists = false }]
    }
  })

  access_entry_arns = [
    for arn in var.cluster_arns : "${replace(arn, ":cluster/", ":access-entry/")}/*"
  ]
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]

  # Many accounts: the bus the organization's forwarders put IAM events on (none without one).
  organization_bus_names = var.organization_id == "" ? [] : ["${var.function_name}-organization"]
}

# Events that could not be delivered (EventBridge) or failed every retry (Lambda async).
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.function_name}-dead-letter"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeDeadLetters"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.dead_letter.arn
        Condition = {
          ArnEquals = {
            "aws:SourceArn" = concat(
              [aws_cloudwatch_event_rule.iam_events.arn, aws_cloudwatch_event_rule.schedule.arn],
              [for rule in aws_cloudwatch_event_rule.organization_iam_events : rule.arn],
              aws_cloudwatch_event_rule.review[*].arn,
            )
          }
        }
      },
      merge(local.sqs_tls_only, { Resource = aws_sqs_queue.dead_letter.arn }),
    ]
  })
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:Logs hold principal ARNs and usernames, no secrets (tokens are never logged); CloudWatch Logs encrypts at rest by default.
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_in_days input (default 90 days); a year is the operator's choice, not a requirement.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "function" {
  name_prefix = "${var.function_name}-"
  description = "eks-iam-sync function role (its identity in the clusters)"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "function" {
  name = "eks-iam-sync"
  role = aws_iam_role.function.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "Logs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${aws_cloudwatch_log_group.function.arn}:*"
        },
        {
          Sid      = "DeadLetters"
          Effect   = "Allow"
          Action   = "sqs:SendMessage"
          Resource = aws_sqs_queue.dead_letter.arn
        },
        {
          Sid    = "ReadIam"
          Effect = "Allow"
          Action = ["iam:GetGroup", "iam:GetUser", "iam:GetRole", "iam:ListGroupsForUser"]
          Resource = [
            "arn:${local.partition}:iam::${local.account}:group/*",
            "arn:${local.partition}:iam::${local.account}:user/*",
            "arn:${local.partition}:iam::${local.account}:role/*",
          ]
        },
        {
          Sid      = "DiscoverSsoRoles"
          Effect   = "Allow"
          Action   = "iam:ListRoles"
          Resource = "*"
        },
        {
          Sid      = "WhoAmI"
          Effect   = "Allow"
          Action   = "sts:GetCallerIdentity"
          Resource = "*"
        },
        {
          # A bad plan must never remove the function's own way into a cluster.
          Sid    = "KeepOwnAccessEntries"
          Effect = "Deny"
          Action = [
            "eks:UpdateAccessEntry",
            "eks:DeleteAccessEntry",
            "eks:AssociateAccessPolicy",
            "eks:DisassociateAccessPolicy",
          ]
          Resource = "arn:${local.partition}:eks:*:${local.account}:access-entry/*/role/${local.account}/${aws_iam_role.function.name}/*"
        },
      ],
      length(var.cluster_arns) == 0 ? [] : [
        {
          Sid      = "ConfiguredClusters"
          Effect   = "Allow"
          Action   = ["eks:DescribeCluster", "eks:ListAccessEntries", "eks:CreateAccessEntry"]
          Resource = var.cluster_arns
        },
        {
          Sid    = "ConfiguredClustersAccessEntries"
          Effect = "Allow"
          Action = [
            "eks:DescribeAccessEntry",
            "eks:UpdateAccessEntry",
            "eks:DeleteAccessEntry",
            "eks:AssociateAccessPolicy",
            "eks:DisassociateAccessPolicy",
            "eks:ListAssociatedAccessPolicies",
          ]
          Resource = local.access_entry_arns
        },
        {
          # The ownership tags, set by CreateAccessEntry (tag on create): only on access-entry
          # ARNs (never a cluster), only our two tag keys, only managed=true. No
          # eks:UntagResource: the function never removes a tag.
          Sid      = "OwnershipTagsOnCreate"
          Effect   = "Allow"
          Action   = "eks:TagResource"
          Resource = local.access_entry_arns
          Condition = {
            StringEquals = {
              "aws:RequestTag/eks-iam-sync/managed" = "true"
            }
            "ForAllValues:StringEquals" = {
              "aws:TagKeys" = ["eks-iam-sync/managed", "eks-iam-sync/principal-id"]
            }
          }
        },
      ],
      length(var.assume_role_arns) == 0 ? [] : [{
        Sid      = "CrossAccountClusters"
        Effect   = "Allow"
        Action   = "sts:AssumeRole"
        Resource = var.assume_role_arns
      }],
      # The configuration kept in AWS (config_source): that one parameter or object.
      local.config_ssm_name == null ? [] : [{
        Sid      = "ReadConfigParameter"
        Effect   = "Allow"
        Action   = "ssm:GetParameter"
        Resource = "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(local.config_ssm_name, "/")}"
      }],
      local.config_s3_object == null ? [] : [{
        Sid      = "ReadConfigObject"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = "arn:${local.partition}:s3:::${local.config_s3_object}"
      }],
      # Its customer managed key, only through SSM (or S3), as GetParameter (GetObject) uses it.
      var.config_source == "" || var.config_kms_key_arn == "" ? [] : [{
        Sid      = "DecryptConfig"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.config_kms_key_arn
        Condition = {
          StringEquals = {
            "kms:ViaService" = local.config_ssm_name != null ? "ssm.${local.region}.amazonaws.com" : "s3.${local.region}.amazonaws.com"
          }
        }
      }],
    )
  })
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:No VPC by default: the function calls public AWS APIs and the clusters' API endpoints; attach vpc_config in a fork when endpoints are private.
  #checkov:skip=CKV_AWS_173:The environment holds the configuration (ARNs, group names), no secrets; Lambda encrypts it at rest with an AWS managed key.
  #checkov:skip=CKV_AWS_272:The package is built from source by cargo lambda in the operator's pipeline; code signing needs a signing profile this module cannot assume.
  #checkov:skip=CKV_AWS_50:The binary emits no X-Ray segments; its JSON logs and embedded metrics carry the tracing.
  function_name = var.function_name
  description   = "Keeps EKS cluster access in step with IAM (eks-iam-sync)"
  role          = aws_iam_role.function.arn
  # The package: a local zip (a release's or a build's), or an S3 object (see variables.tf).
  filename                       = var.lambda_zip_path
  s3_bucket                      = var.lambda_s3_bucket
  s3_key                         = var.lambda_s3_key
  s3_object_version              = var.lambda_s3_object_version
  source_code_hash               = var.lambda_zip_path != null ? filebase64sha256(var.lambda_zip_path) : var.lambda_source_code_hash
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = ["arm64"]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = local.reserved_concurrency

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  environment {
    variables = merge({
      EKS_IAM_SYNC_CONFIG              = var.config_source != "" ? var.config_source : var.config
      EKS_IAM_SYNC_CLUSTER_CONCURRENCY = tostring(var.cluster_concurrency)
      RUST_LOG                         = var.log_level
    }, local.fleet_environment)
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.function]

  lifecycle {
    precondition {
      condition     = (var.config == "") != (var.config_source == "")
      error_message = "Set exactly one of config (inline or a packaged file) and config_source (ssm:/... or s3://...)."
    }
    precondition {
      condition     = (var.lambda_zip_path != null) != (var.lambda_s3_bucket != null && var.lambda_s3_key != null)
      error_message = "Set either lambda_zip_path (a local zip) or both lambda_s3_bucket and lambda_s3_key (an S3 object), not both and not neither."
    }
  }
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

resource "aws_cloudwatch_event_rule" "iam_events" {
  name           = "${var.function_name}-iam-events"
  description    = "IAM CloudTrail events eks-iam-sync reacts to"
  event_bus_name = var.iam_events_bus_name
  event_pattern  = local.iam_event_pattern
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "iam_events" {
  rule           = aws_cloudwatch_event_rule.iam_events.name
  event_bus_name = var.iam_events_bus_name
  target_id      = "eks-iam-sync"
  arn            = aws_lambda_function.this.arn

  retry_policy {
    maximum_retry_attempts       = 4
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "iam_events" {
  statement_id  = "AllowIamEventsRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.iam_events.arn
}

# Many accounts: the organization's forwarders (terraform/forwarder in each member account, or
# deploy/iam-events-forwarder.yaml as a StackSet) put their accounts' IAM events on a bus of
# their own, so no principal of the organization can put events on iam_events_bus_name (the
# default bus, which other rules of this account may act on).
resource "aws_cloudwatch_event_bus" "organization" {
  for_each = toset(local.organization_bus_names)
  name     = each.value
  tags     = var.tags
}

resource "aws_cloudwatch_event_bus_policy" "organization" {
  for_each       = aws_cloudwatch_event_bus.organization
  event_bus_name = each.value.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "eks-iam-sync-organization-iam-events"
      Effect    = "Allow"
      Principal = "*"
      Action    = "events:PutEvents"
      Resource  = each.value.arn
      Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }
    }]
  })
}

# The function's IAM events rule on the organization's bus: the same pattern, retries and
# dead-letter queue as on iam_events_bus_name.
resource "aws_cloudwatch_event_rule" "organization_iam_events" {
  for_each       = aws_cloudwatch_event_bus.organization
  name           = "${var.function_name}-org-iam-events"
  description    = "IAM CloudTrail events of the organization's member accounts (eks-iam-sync)"
  event_bus_name = each.value.name
  event_pattern  = local.iam_event_pattern
  tags           = var.tags
}

resource "aws_cloudwatch_event_target" "organization_iam_events" {
  for_each       = aws_cloudwatch_event_rule.organization_iam_events
  rule           = each.value.name
  event_bus_name = each.value.event_bus_name
  target_id      = "eks-iam-sync"
  arn            = aws_lambda_function.this.arn

  retry_policy {
    maximum_retry_attempts       = 4
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "organization_iam_events" {
  for_each      = aws_cloudwatch_event_rule.organization_iam_events
  statement_id  = "AllowOrganizationIamEventsRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = "${var.function_name}-schedule"
  description         = "Full reconcile of every cluster (eks-iam-sync)"
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "eks-iam-sync"
  arn       = aws_lambda_function.this.arn

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 300
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowScheduleRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.function_name}-dead-letters"
  alarm_description   = "eks-iam-sync events failed every retry; see the dead-letter queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.function_name}-errors"
  alarm_description   = "eks-iam-sync invocations failed (a cluster could not be reconciled)"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# Runs that left planned changes undone (NotApplied: rejected, not attempted, refused) or whose
# plan a guard refused (Refusals), sustained for alarm_evaluation_periods periods. The metrics
# are the function's embedded-metric lines, under its FunctionName dimension.
resource "aws_cloudwatch_metric_alarm" "runs" {
  for_each            = toset(["NotApplied", "Refusals"])
  alarm_name          = "${var.function_name}-${lower(each.key)}"
  alarm_description   = "eks-iam-sync runs reported ${each.key} above zero for ${var.alarm_evaluation_periods} periods in a row (changes IAM asks for are not made); see notApplied, rejected and refusals in the run summaries (logs)"
  namespace           = "EksIamSync"
  metric_name         = each.key
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_evaluation_periods
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing" # a period without a run neither breaches nor clears it
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

# The function's own way into each listed cluster, outside aws-auth.
resource "aws_eks_access_entry" "function" {
  for_each      = toset(var.access_entry_clusters)
  cluster_name  = each.value
  principal_arn = aws_iam_role.function.arn
  type          = "STANDARD"
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "function" {
  for_each      = aws_eks_access_entry.function
  cluster_name  = each.value.cluster_name
  principal_arn = each.value.principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/${var.access_entry_policy}"

  access_scope {
    type       = var.access_entry_policy == "AmazonEKSClusterAdminPolicy" ? "cluster" : "namespace"
    namespaces = var.access_entry_policy == "AmazonEKSClusterAdminPolicy" ? null : ["kube-system"]
  }
}

# --- us-east-1: forward IAM events to the function's region (only when it runs elsewhere) ---

resource "aws_sqs_queue" "forward_dead_letter" {
  count                     = local.forward_iam_events ? 1 : 0
  provider                  = aws.us_east_1
  name                      = "${var.function_name}-forward-dead-letter"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "forward_dead_letter" {
  count     = local.forward_iam_events ? 1 : 0
  provider  = aws.us_east_1
  queue_url = aws_sqs_queue.forward_dead_letter[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeDeadLetters"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.forward_dead_letter[0].arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.forward[0].arn } }
      },
      merge(local.sqs_tls_only, { Resource = aws_sqs_queue.forward_dead_letter[0].arn }),
    ]
  })
}

resource "aws_iam_role" "forward" {
  count       = local.forward_iam_events ? 1 : 0
  provider    = aws.us_east_1
  name_prefix = "${var.function_name}-fwd-"
  description = "Lets EventBridge in us-east-1 put IAM events on the eks-iam-sync bus"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy" "forward" {
  count    = local.forward_iam_events ? 1 : 0
  provider = aws.us_east_1
  name     = "put-events-on-target-bus"
  role     = aws_iam_role.forward[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${var.iam_events_bus_name}"
    }]
  })
}

resource "aws_cloudwatch_event_rule" "forward" {
  count         = local.forward_iam_events ? 1 : 0
  provider      = aws.us_east_1
  name          = "${var.function_name}-forward-iam-events"
  description   = "IAM CloudTrail events eks-iam-sync reacts to, forwarded to ${local.region}"
  event_pattern = local.iam_event_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  count     = local.forward_iam_events ? 1 : 0
  provider  = aws.us_east_1
  rule      = aws_cloudwatch_event_rule.forward[0].name
  target_id = "eks-iam-sync-bus"
  arn       = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${var.iam_events_bus_name}"
  role_arn  = aws_iam_role.forward[0].arn

  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.forward_dead_letter[0].arn
  }
}

resource "aws_cloudwatch_metric_alarm" "forward_dead_letters" {
  count               = local.forward_iam_events ? 1 : 0
  provider            = aws.us_east_1
  alarm_name          = "${var.function_name}-forward-dead-letters"
  alarm_description   = "IAM events could not be forwarded to the eks-iam-sync region"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.forward_dead_letter[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  tags                = var.tags
}
