# The scheduled access review's bucket and rule (issue 22) and the change history's bucket and
# events (issue 23), each only when its variable is set. The configuration's `review` and
# `history` sections must name the same buckets and prefixes (README "The review command",
# "Change history").

locals {
  report_buckets = merge(
    var.review == null ? {} : { review = var.review.bucket },
    var.history == null ? {} : { history = var.history.bucket },
  )
  history_object_lock = var.history == null ? false : var.history.object_lock_days > 0
}

resource "aws_s3_bucket" "reports" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket this module cannot choose; enable it toward your organization's log bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication is an organization's choice of a second region; the records are small and versioned here.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) by default; set a customer managed key in a fork if your policy requires one.
  #checkov:skip=CKV2_AWS_62:Event notifications are optional; the change events go to EventBridge (history.eventBus) instead.
  for_each            = local.report_buckets
  bucket              = each.value
  object_lock_enabled = each.key == "history" ? local.history_object_lock : false
  tags                = var.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "reports" {
  for_each = aws_s3_bucket.reports
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "reports" {
  for_each                = aws_s3_bucket.reports
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "reports" {
  for_each = aws_s3_bucket.reports
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "reports" {
  for_each = aws_s3_bucket.reports
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "reports" {
  for_each = aws_s3_bucket.reports
  bucket   = each.value.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.report_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.report_retention_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_object_lock_configuration" "history" {
  for_each = local.history_object_lock ? { history = aws_s3_bucket.reports["history"] } : {}
  bucket   = each.value.id
  rule {
    default_retention {
      mode = "GOVERNANCE"
      days = var.history.object_lock_days
    }
  }
  depends_on = [aws_s3_bucket_versioning.reports]
}

resource "aws_s3_bucket_policy" "reports" {
  for_each = aws_s3_bucket.reports
  bucket   = each.value.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TlsOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [each.value.arn, "${each.value.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.reports]
}

# What the function may do there: write the reports under review.prefix; write and read the
# records under history.prefix; list users for the review; put the change events on the bus.
resource "aws_iam_role_policy" "reports" {
  count = length(local.report_buckets) > 0 ? 1 : 0
  name  = "eks-iam-sync-reports"
  role  = aws_iam_role.function.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      var.review == null ? [] : [
        {
          Sid      = "WriteReviewReports"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = "arn:${local.partition}:s3:::${var.review.bucket}/${var.review.prefix}*"
        },
        {
          Sid      = "ReviewListUsers"
          Effect   = "Allow"
          Action   = "iam:ListUsers"
          Resource = "*"
        },
      ],
      var.history == null ? [] : [
        {
          Sid      = "WriteHistory"
          Effect   = "Allow"
          Action   = ["s3:PutObject", "s3:GetObject"]
          Resource = "arn:${local.partition}:s3:::${var.history.bucket}/${var.history.prefix}*"
        },
        {
          Sid       = "ListHistory"
          Effect    = "Allow"
          Action    = "s3:ListBucket"
          Resource  = "arn:${local.partition}:s3:::${var.history.bucket}"
          Condition = { StringLike = { "s3:prefix" = "${var.history.prefix}*" } }
        },
      ],
      try(var.history.event_bus, null) == null ? [] : [{
        Sid      = "PutChangeEvents"
        Effect   = "Allow"
        Action   = "events:PutEvents"
        Resource = "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${var.history.event_bus}"
      }],
    )
  })
}

resource "aws_cloudwatch_event_rule" "review" {
  count               = var.review == null ? 0 : 1
  name                = "${var.function_name}-review"
  description         = "Scheduled access review of every cluster (eks-iam-sync)"
  schedule_expression = var.review.schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "review" {
  count     = var.review == null ? 0 : 1
  rule      = aws_cloudwatch_event_rule.review[0].name
  target_id = "eks-iam-sync-review"
  arn       = aws_lambda_function.this.arn
  input     = jsonencode({ action = "review" })

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "review" {
  count         = var.review == null ? 0 : 1
  statement_id  = "AllowReviewRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.review[0].arn
}

# An example route of the change events: every one to an SNS topic (Slack, e-mail, a SIEM).
# The topic's policy must let events.amazonaws.com publish.
resource "aws_cloudwatch_event_rule" "change_events" {
  count          = try(var.history.events_topic_arn, null) == null || try(var.history.event_bus, null) == null ? 0 : 1
  name           = "${var.function_name}-access-changes"
  description    = "eks-iam-sync access changes to SNS"
  event_bus_name = var.history.event_bus
  event_pattern = jsonencode({
    source        = ["eks-iam-sync"]
    "detail-type" = ["EKS Access Changed"]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "change_events" {
  count          = length(aws_cloudwatch_event_rule.change_events)
  rule           = aws_cloudwatch_event_rule.change_events[0].name
  event_bus_name = var.history.event_bus
  target_id      = "sns"
  arn            = var.history.events_topic_arn
}
