# Example: eks-iam-sync in us-east-1, where IAM events arrive, so nothing is forwarded.
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
  region = "us-east-1"
}

module "eks_iam_sync" {
  source = "../.."

  # The function runs in us-east-1 itself: the forwarder provider is the same one.
  providers = {
    aws           = aws
    aws.us_east_1 = aws
  }

  lambda_zip_path = var.lambda_zip_path
  config = jsonencode({
    clusters = [{ name = "prod", region = "us-east-1" }]
    groups   = [{ iamGroup = "eks-admins", kubernetesGroups = ["system:masters"] }]
  })
  cluster_arns          = ["arn:aws:eks:us-east-1:111122223333:cluster/prod"]
  access_entry_clusters = ["prod"]
}

output "function_role_arn" {
  value = module.eks_iam_sync.function_role_arn
}
