# Fleet mode (var.fleet, README "Fleet mode"): the schedule and IAM events fan out one message
# per cluster on an SQS FIFO queue; the function drains it through an event source mapping
# with partial batch responses, so one failing cluster is retried (then dead-lettered) alone.
# Off by default: small deployments reconcile in place. tests/offline/deploy_templates.rs checks it.

locals {
  # A failed record is made visible again within about a minute by the function itself
  # (ChangeMessageVisibility, README "Fleet mode"), so this only bounds the records of an
  # invocation that died without answering; Lambda refuses a mapping whose queue's timeout is
  # below the function's.
  work_queue_visibility_timeout = var.timeout + 60
  # Room for the dispatcher (schedule, IAM events, direct invokes) beside the workers.
  reserved_concurrency = var.fleet ? var.fleet_maximum_concurrency + 2 : 1
  fleet_environment = var.fleet ? {
    EKS_IAM_SYNC_QUEUE_URL = aws_sqs_queue.work[0].url
  } : {}
}

# A FIFO dead-letter queue (a FIFO queue's DLQ must be FIFO): clusters that failed every try.
resource "aws_sqs_queue" "work_dead_letter" {
  count                     = var.fleet ? 1 : 0
  name                      = "${var.function_name}-work-dead-letter.fifo"
  fifo_queue                = true
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "work" {
  count                       = var.fleet ? 1 : 0
  name                        = "${var.function_name}-work.fifo"
  fifo_queue                  = true
  content_based_deduplication = false # the dispatcher sets deduplication ids from the event
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
  visibility_timeout_seconds  = local.work_queue_visibility_timeout
  message_retention_seconds   = 86400
  sqs_managed_sse_enabled     = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.work_dead_letter[0].arn
    maxReceiveCount     = var.fleet_max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_policy" "work" {
  for_each = var.fleet ? {
    work        = aws_sqs_queue.work[0]
    dead_letter = aws_sqs_queue.work_dead_letter[0]
  } : {}
  queue_url = each.value.url
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [merge(local.sqs_tls_only, { Resource = each.value.arn })],
      # A work message is obeyed by the function: no one but the function's role (the
      # dispatcher) may send one, whatever their IAM policies allow.
      each.key != "work" ? [] : [{
        Sid       = "OnlyTheFunctionSends"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:SendMessage"
        Resource  = each.value.arn
        Condition = { ArnNotEquals = { "aws:PrincipalArn" = aws_iam_role.function.arn } }
      }],
    )
  })
}

# Least privilege: the dispatcher sends; the event source mapping receives and deletes; the
# worker shortens a failed record's visibility timeout so it is retried soon.
resource "aws_iam_role_policy" "fleet" {
  count = var.fleet ? 1 : 0
  name  = "eks-iam-sync-fleet"
  role  = aws_iam_role.function.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "DispatchClusters"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.work[0].arn
      },
      {
        Sid      = "DrainClusters"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = aws_sqs_queue.work[0].arn
      },
      {
        Sid      = "RetryFailedClustersSoon"
        Effect   = "Allow"
        Action   = "sqs:ChangeMessageVisibility"
        Resource = aws_sqs_queue.work[0].arn
      },
    ]
  })
}

resource "aws_lambda_event_source_mapping" "work" {
  count                   = var.fleet ? 1 : 0
  event_source_arn        = aws_sqs_queue.work[0].arn
  function_name           = aws_lambda_function.this.arn
  batch_size              = var.fleet_batch_size
  function_response_types = ["ReportBatchItemFailures"]
  scaling_config {
    maximum_concurrency = var.fleet_maximum_concurrency
  }
  depends_on = [aws_iam_role_policy.fleet]
}

resource "aws_cloudwatch_metric_alarm" "work_dead_letters" {
  count               = var.fleet ? 1 : 0
  alarm_name          = "${var.function_name}-work-dead-letters"
  alarm_description   = "eks-iam-sync clusters failed every retry in fleet mode; see the work dead-letter queue"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.work_dead_letter[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}
