# Terraform module for eks-iam-sync: provider requirements. The module needs two AWS providers:
# the default one (the function's region) and `aws.us_east_1`, where IAM CloudTrail events
# reach EventBridge (pass the default provider again when the function runs in us-east-1).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = ">= 6.0, < 7.0"
      configuration_aliases = [aws.us_east_1]
    }
  }
}
