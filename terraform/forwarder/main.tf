# Many accounts: forwards a member account's IAM CloudTrail events from us-east-1 (the only
# region where they reach EventBridge) to the eks-iam-sync organization bus in the central
# account, the bus the main module creates when organization_id is set (never its default bus). The Terraform
# twin of deploy/iam-events-forwarder.yaml (deployed there as a StackSet): apply this module in
# every member account with an aws provider in us-east-1. The event names are exactly
# eks_iam_sync::events::IAM_EVENT_NAMES (tests/offline/deploy_fleet.rs checks them).

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition       = data.aws_partition.current.partition
  account         = data.aws_caller_identity.current.account_id
  target_bus_name = coalesce(var.target_event_bus_name, "${var.name}-organization")
  target_bus      = "arn:${local.partition}:events:${var.target_region}:${var.target_account_id}:event-bus/${local.target_bus_name}"

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

  # Failed calls (with an errorCode) changed nothing in IAM: they are not forwarded.
  iam_event_pattern = jsonencode({
    source        = ["aws.iam"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["iam.amazonaws.com"]
      eventName   = local.iam_event_names
      errorCode   = [{ exists = false }]
    }
  })
}

check "in_us_east_1" {
  assert {
    condition     = data.aws_region.current.region == "us-east-1"
    error_message = "IAM events reach EventBridge only in us-east-1: give this module an aws provider in us-east-1."
  }
}

# Events EventBridge could not deliver to the central bus after every retry.
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-forward-dead-letter"
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
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.forward.arn } }
      },
      {
        Sid       = "TlsOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = aws_sqs_queue.dead_letter.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_iam_role" "forward" {
  name_prefix = "${var.name}-fwd-"
  description = "Lets EventBridge in us-east-1 put IAM events on the eks-iam-sync central bus"
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
  name = "put-events-on-target-bus"
  role = aws_iam_role.forward.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = local.target_bus
    }]
  })
}

resource "aws_cloudwatch_event_rule" "forward" {
  name          = "${var.name}-forward-iam-events"
  description   = "IAM CloudTrail events eks-iam-sync reacts to, forwarded to its central account"
  event_pattern = local.iam_event_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  rule      = aws_cloudwatch_event_rule.forward.name
  target_id = "eks-iam-sync-bus"
  arn       = local.target_bus
  role_arn  = aws_iam_role.forward.arn

  retry_policy {
    maximum_retry_attempts       = 8
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${var.name}-forward-dead-letters"
  alarm_description   = "IAM events could not be forwarded to the eks-iam-sync central account"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  tags                = var.tags
}
