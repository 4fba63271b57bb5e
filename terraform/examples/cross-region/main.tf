# Example: eks-iam-sync in eu-west-3. IAM events reach EventBridge only in us-east-1, so the
# module also creates, through the aws.us_east_1 provider alias, a rule there that forwards
# them to the default event bus of eu-west-3. One cluster is cross-account (assumeRoleArn).
# Build the package first: cargo lambda build --release --arm64 --output-format zip

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }
}

# The package: a build from source by default, or a release's arm64 zip
# (terraform plan -var "lambda_zip_path=$PWD/eks-iam-sync-VERSION-lambda-arm64.zip").
variable "lambda_zip_path" {
  description = "Path of the Lambda package (.zip)."
  type        = string
  default     = "../../../target/lambda/eks-iam-sync/bootstrap.zip"
}

provider "aws" {
  region = "eu-west-3"
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

locals {
  staging_role = "arn:aws:iam::222233334444:role/eks-iam-sync"
}

module "eks_iam_sync" {
  source = "../.."

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  lambda_zip_path = var.lambda_zip_path
  config = jsonencode({
    clusters = [
      { name = "prod", region = "eu-west-3" },
      { name = "staging", region = "eu-west-3", assumeRoleArn = local.staging_role },
    ]
    groups = [{ iamGroup = "eks-admins", kubernetesGroups = ["system:masters"] }]
    roles = [{
      arn              = "arn:aws:iam::111122223333:role/KarpenterNodeRole-prod"
      username         = "system:node:{{EC2PrivateDNSName}}"
      kubernetesGroups = ["system:bootstrappers", "system:nodes"]
      clusters         = ["prod"]
    }]
  })
  # Only prod is reached with the function's own role; staging through its assumed role,
  # which needs its own access entry (or aws-auth mapping) in account 222233334444.
  cluster_arns          = ["arn:aws:eks:eu-west-3:111122223333:cluster/prod"]
  assume_role_arns      = [local.staging_role]
  access_entry_clusters = ["prod"]
  schedule_expression   = "rate(10 minutes)"
  alarm_topic_arn       = "arn:aws:sns:eu-west-3:111122223333:ops-alerts"
}

output "function_role_arn" {
  value = module.eks_iam_sync.function_role_arn
}

output "forward_rule_arn" {
  value = module.eks_iam_sync.forward_rule_arn
}
