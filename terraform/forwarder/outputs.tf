output "forward_rule_arn" {
  description = "The us-east-1 rule forwarding this account's IAM events to the central bus."
  value       = aws_cloudwatch_event_rule.forward.arn
}

output "dead_letter_queue_url" {
  description = "IAM events that could not be forwarded after every retry."
  value       = aws_sqs_queue.dead_letter.id
}
