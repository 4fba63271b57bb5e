# Terraform module for eks-iam-sync: inputs, each validated (README "Deploy" explains them).

variable "function_name" {
  description = "Name of the Lambda function; also prefixes every other resource name."
  type        = string
  default     = "eks-iam-sync"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.function_name))
    error_message = "function_name: 1-48 letters, digits, '-' or '_' (it prefixes longer names)."
  }
}

variable "lambda_zip_path" {
  description = "Path of a local Lambda package: the arm64 zip of a GitHub release (eks-iam-sync-VERSION-lambda-arm64.zip), or a build from source (`cargo lambda build --release --arm64 --output-format zip` writes target/lambda/eks-iam-sync/bootstrap.zip). Null to take the package from S3 (lambda_s3_bucket, lambda_s3_key)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_zip_path == null || endswith(coalesce(var.lambda_zip_path, ".zip"), ".zip")
    error_message = "lambda_zip_path must name a .zip file (a release's Lambda zip, or cargo lambda build --output-format zip)."
  }
}

variable "lambda_s3_bucket" {
  description = "S3 bucket holding the Lambda package (instead of lambda_zip_path), in the function's region: e.g. a release's arm64 zip copied there with `aws s3 cp`."
  type        = string
  default     = null
}

variable "lambda_s3_key" {
  description = "S3 key of the Lambda package in lambda_s3_bucket (a .zip)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_s3_key == null || endswith(coalesce(var.lambda_s3_key, ".zip"), ".zip")
    error_message = "lambda_s3_key must name a .zip object."
  }
}

variable "lambda_s3_object_version" {
  description = "Version of the S3 package object (versioned buckets): a new version updates the function. Optional."
  type        = string
  default     = null
}

variable "lambda_source_code_hash" {
  description = "With the package in S3: the base64 SHA-256 of the zip (`openssl dgst -sha256 -binary FILE.zip | base64`), so a new zip under the same key updates the function. Optional; with lambda_zip_path the module computes it."
  type        = string
  default     = null
}

variable "config" {
  description = "The eks-iam-sync configuration (README \"Configuration\") as one-line JSON (e.g. jsonencode(...)), or the path of a file in the package. Becomes EKS_IAM_SYNC_CONFIG. Leave empty (the default) when config_source is set."
  type        = string
  default     = ""

  validation {
    condition     = length(var.config) <= 4000
    error_message = "config must be at most 4000 characters (Lambda's environment holds 4 KB); use config_source (SSM or S3) for more."
  }
}

variable "config_source" {
  description = "The configuration kept in AWS instead of config: ssm:/parameter/name (String or SecureString; advanced tier up to 8 KB) or s3://bucket/key (any size). Becomes EKS_IAM_SYNC_CONFIG; the function may read that one parameter (ssm:GetParameter) or object (s3:GetObject) only. Exactly one of config and config_source is set."
  type        = string
  default     = ""

  validation {
    condition     = var.config_source == "" || can(regex("^ssm:/[A-Za-z0-9_./-]+$", var.config_source)) || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$", var.config_source))
    error_message = "config_source must be empty, ssm:/parameter/name or s3://bucket/key."
  }
}

variable "config_kms_key_arn" {
  description = "The customer managed KMS key encrypting the config_source SecureString parameter (or S3 object), if any: kms:Decrypt is allowed on this key only through SSM (or S3, by kms:ViaService). Empty for a String parameter, the AWS managed aws/ssm key or SSE-S3."
  type        = string
  default     = ""

  validation {
    condition     = var.config_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.config_kms_key_arn))
    error_message = "config_kms_key_arn must be empty or a KMS key ARN."
  }
}

variable "cluster_arns" {
  description = "ARNs of the EKS clusters the function reaches with its own role (configured clusters without assumeRoleArn): DescribeCluster and the access-entry APIs are allowed on these only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.cluster_arns : can(regex("^arn:aws[a-z-]*:eks:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9][A-Za-z0-9_-]*$", arn))])
    error_message = "cluster_arns: each must be an EKS cluster ARN, arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME."
  }
}

variable "assume_role_arns" {
  description = "The assumeRoleArn values of the configuration (cross-account clusters): sts:AssumeRole is allowed on these roles only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.assume_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "assume_role_arns: each must be an IAM role ARN, arn:PARTITION:iam::ACCOUNT:role/NAME."
  }
}

variable "access_entry_clusters" {
  description = "Names of clusters in the provider's account and region whose authentication mode is API or API_AND_CONFIG_MAP: the function's role gets an EKS access entry there, which no aws-auth write can take away. Leave out CONFIG_MAP-only clusters."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.access_entry_clusters : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", name))])
    error_message = "access_entry_clusters: each must be an EKS cluster name (letters, digits, '-', '_')."
  }
}

variable "access_entry_policy" {
  description = "EKS access policy of the function's access entries: AmazonEKSClusterAdminPolicy (cluster scope), or AmazonEKSEditPolicy scoped to kube-system, enough to read and write aws-auth."
  type        = string
  default     = "AmazonEKSClusterAdminPolicy"

  validation {
    condition     = contains(["AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy"], var.access_entry_policy)
    error_message = "access_entry_policy must be AmazonEKSClusterAdminPolicy or AmazonEKSEditPolicy."
  }
}

variable "schedule_expression" {
  description = "How often the full reconcile of every cluster runs (EventBridge rate or cron expression)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }
}

variable "iam_events_bus_name" {
  description = "Event bus in the function's region that IAM events arrive on: the default bus in us-east-1, and the forwarding target elsewhere."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.iam_events_bus_name))
    error_message = "iam_events_bus_name must be an event bus name (not an ARN)."
  }
}

variable "organization_id" {
  description = "Many accounts: an AWS Organization id (o-...) whose member accounts' forwarders (terraform/forwarder, or deploy/iam-events-forwarder.yaml as a StackSet) may put IAM events on a bus created for them, FUNCTION_NAME-organization (aws:PrincipalOrgID); iam_events_bus_name is not opened. Empty for none."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(o-[a-z0-9]{10,32})?$", var.organization_id))
    error_message = "organization_id must be an organization id (o- and 10 to 32 lowercase letters or digits), or empty."
  }
}

variable "memory_size" {
  description = "Function memory in MB."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds: a full run reconciles every cluster (concurrently, bounded) with conflict retries and IAM backoff."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 30 && var.timeout <= 900
    error_message = "timeout must be between 30 and 900 seconds."
  }
}

variable "log_level" {
  description = "RUST_LOG filter of the function (info, debug, eks_iam_sync=debug, ...)."
  type        = string
  default     = "info"

  validation {
    condition     = length(trimspace(var.log_level)) > 0
    error_message = "log_level must not be empty."
  }
}

variable "log_retention_in_days" {
  description = "Days to keep the function's logs."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the alarms (dead-letter messages, function errors, changes not applied, refusals); null for none."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN or null."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive 5-minute periods in which runs must report NotApplied > 0 (or Refusals > 0) before its alarm fires. A failed change is retried within minutes; one that stays unapplied this long needs a person."
  type        = number
  default     = 3

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && var.alarm_evaluation_periods <= 288
    error_message = "alarm_evaluation_periods must be between 1 and 288."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "fleet" {
  description = "Fleet mode (README \"Fleet mode\"): fan clusters out on an SQS FIFO queue, one message per cluster, drained by the function with partial batch responses."
  type        = bool
  default     = false
}

variable "fleet_batch_size" {
  description = "Fleet mode: records per worker invocation (a FIFO event source takes at most 10)."
  type        = number
  default     = 10

  validation {
    condition     = var.fleet_batch_size >= 1 && var.fleet_batch_size <= 10
    error_message = "fleet_batch_size must be between 1 and 10."
  }
}

variable "fleet_maximum_concurrency" {
  description = "Fleet mode: worker invocations the event source mapping runs at once; the function reserves this plus 2 for the dispatcher."
  type        = number
  default     = 10

  validation {
    condition     = var.fleet_maximum_concurrency >= 2 && var.fleet_maximum_concurrency <= 1000
    error_message = "fleet_maximum_concurrency must be between 2 and 1000."
  }
}

variable "fleet_max_receive_count" {
  description = "Fleet mode: tries of one cluster's message before it is dead-lettered. A failed try is retried after 15 s, 30 s, then 60 s (plus up to 5 s): 5 tries span about 3 minutes, less than one schedule period."
  type        = number
  default     = 5

  validation {
    condition     = var.fleet_max_receive_count >= 1 && var.fleet_max_receive_count <= 1000
    error_message = "fleet_max_receive_count must be between 1 and 1000."
  }
}

variable "cluster_concurrency" {
  description = "Clusters (in fleet mode: records of a batch) reconciled at the same time by one invocation (EKS_IAM_SYNC_CLUSTER_CONCURRENCY)."
  type        = number
  default     = 4

  validation {
    condition     = var.cluster_concurrency >= 1 && var.cluster_concurrency <= 64
    error_message = "cluster_concurrency must be between 1 and 64."
  }
}

variable "review" {
  description = "The scheduled access review (issue 22): the bucket this module creates for its reports, the key prefix, and the schedule. The configuration's review section must say the same. null: no scheduled review."
  type = object({
    bucket   = string
    prefix   = optional(string, "eks-iam-sync/reviews/")
    schedule = optional(string, "rate(1 day)")
  })
  default = null

  validation {
    condition     = var.review == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.review.bucket)) && can(regex("^(rate|cron)\\(.+\\)$", var.review.schedule))
    error_message = "review.bucket must be an S3 bucket name and review.schedule rate(...) or cron(...)."
  }
}

variable "history" {
  description = "The change history (issue 23): the bucket this module creates for the records, the key prefix, the EventBridge bus the change events go to (optional), Object Lock retention in days (0: none; only when the bucket is created), and an SNS topic the events are routed to (optional example rule). The configuration's history section must say the same. null: no history."
  type = object({
    bucket           = string
    prefix           = optional(string, "eks-iam-sync/")
    event_bus        = optional(string)
    object_lock_days = optional(number, 0)
    events_topic_arn = optional(string)
  })
  default = null

  validation {
    condition     = var.history == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.history.bucket)) && var.history.object_lock_days >= 0
    error_message = "history.bucket must be an S3 bucket name and history.object_lock_days at least 0."
  }
}

variable "report_retention_days" {
  description = "Days the review reports and history records are kept (a lifecycle rule on their buckets)."
  type        = number
  default     = 400

  validation {
    condition     = var.report_retention_days >= 1
    error_message = "report_retention_days must be at least 1."
  }
}
