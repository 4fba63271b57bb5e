# The member-account forwarder module: one AWS provider, in us-east-1 (where IAM CloudTrail
# events reach EventBridge) of the member account.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}
