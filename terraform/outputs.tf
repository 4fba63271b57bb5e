# Terraform module for eks-iam-sync: outputs.

output "function_name" {
  description = "The Lambda function (invoke it with {\"action\":\"reconcile\",\"dryRun\":true} for a plan)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "function_role_arn" {
  description = "The function's identity in the clusters: map it in aws-auth on CONFIG_MAP-only clusters."
  value       = aws_iam_role.function.arn
}

output "dead_letter_queue_url" {
  description = "Queue of events that failed every retry."
  value       = aws_sqs_queue.dead_letter.url
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.function.name
}

output "iam_events_rule_arn" {
  description = "The rule matching IAM CloudTrail events in the function's region."
  value       = aws_cloudwatch_event_rule.iam_events.arn
}

output "organization_event_bus_name" {
  description = "Many accounts: the bus the organization's forwarders target (terraform/forwarder target_event_bus_name; null without organization_id)."
  value       = one([for bus in aws_cloudwatch_event_bus.organization : bus.name])
}

output "forward_rule_arn" {
  description = "The us-east-1 rule forwarding IAM events to the function's region (null when the function runs in us-east-1)."
  value       = local.forward_iam_events ? aws_cloudwatch_event_rule.forward[0].arn : null
}

output "work_queue_url" {
  description = "Fleet mode: the FIFO queue clusters are fanned out on (null when fleet is off)."
  value       = var.fleet ? aws_sqs_queue.work[0].url : null
}

output "work_dead_letter_queue_url" {
  description = "Fleet mode: clusters that failed every retry (null when fleet is off)."
  value       = var.fleet ? aws_sqs_queue.work_dead_letter[0].url : null
}

output "review_bucket" {
  description = "The scheduled review's reports ({prefix}latest.html, {prefix}YYYY/MM/DD/); null without var.review."
  value       = try(aws_s3_bucket.reports["review"].bucket, null)
}

output "history_bucket" {
  description = "The change history (eks-iam-sync history / restore read it); null without var.history."
  value       = try(aws_s3_bucket.reports["history"].bucket, null)
}
