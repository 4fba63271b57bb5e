variable "target_region" {
  description = "Region of the eks-iam-sync function (its iam_events_bus_name lives there)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.target_region))
    error_message = "target_region must be a region name such as eu-west-3."
  }
}

variable "target_account_id" {
  description = "Account of the eks-iam-sync function (the central account, whose bus accepts the organization: organization_id of the main module)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.target_account_id))
    error_message = "target_account_id must be a 12-digit account id."
  }
}

variable "target_event_bus_name" {
  description = "Event bus in target_region that accepts the organization: the main module's organization_event_bus_name output. Null for NAME-organization, the bus the main module creates for a function named var.name."
  type        = string
  default     = null

  validation {
    condition     = var.target_event_bus_name == null || can(regex("^[A-Za-z0-9._-]{1,256}$", var.target_event_bus_name))
    error_message = "target_event_bus_name must be an event bus name (not an ARN), or null."
  }
}

variable "name" {
  description = "Prefix of the forwarder's resource names: the main module's function_name, whose organization bus is the default target."
  type        = string
  default     = "eks-iam-sync"
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}
