//! The deployment templates' fleet mode (issue 14): a switch, off by default, creating the FIFO
//! work queue the handler expects (dead-letter queue, alarm, event source mapping with partial
//! batch responses, least-privilege SQS), in `template.yaml` and `terraform/` alike; and the
//! many-accounts plumbing (the central bus accepting the organization, the forwarder targeting
//! it). Issue 20: the queue settings follow from retrying a failed record within about a
//! minute (`ChangeMessageVisibility`, granted on the work queue only).

use std::time::Duration;

use eks_iam_sync::fleet::retry::retry_delay;
use eks_iam_sync::fleet::{CLUSTER_CONCURRENCY_ENV, QUEUE_URL_ENV};
use serde_json::json;

use crate::deploy_support::{at, cloudformation, hcl_block, read, squash};

#[test]
fn terraform_in_place_reserved_concurrency_is_one() {
    let fleet = squash(&read("terraform/fleet.tf"));
    assert!(
        fleet.contains("reserved_concurrency = var.fleet ? var.fleet_maximum_concurrency + 2 : 1"),
        "terraform/fleet.tf: reserved concurrency must be 1 in place, workers + 2 in fleet mode"
    );
}

// --- Fleet mode (issue 14): a switch, off by default, with the queue the handler expects. ---

#[test]
fn sam_fleet_mode_is_a_switch_off_by_default() {
    let template = cloudformation("template.yaml");
    let parameters = &template["Parameters"];
    assert_eq!(parameters["FleetMode"]["Default"], "false");
    assert_eq!(
        template["Conditions"]["Fleet"],
        json!(["FleetMode", "true"]),
        "Fleet: !Equals [!Ref FleetMode, \"true\"]"
    );
    let resources = template["Resources"].as_object().unwrap();
    for name in [
        "WorkQueue",
        "WorkDeadLetterQueue",
        "WorkQueuePolicy",
        "FleetPolicy",
        "WorkQueueMapping",
        "WorkDeadLetterAlarm",
    ] {
        assert_eq!(
            resources[name]["Condition"], "Fleet",
            "template.yaml {name}: only in fleet mode"
        );
    }
    let variables = &resources["Function"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        variables[QUEUE_URL_ENV],
        json!(["Fleet", "WorkQueue", "AWS::NoValue"])
    );
    assert_eq!(variables[CLUSTER_CONCURRENCY_ENV], "ClusterConcurrency");
    assert_eq!(parameters["ClusterConcurrency"]["Default"], 4);
}

/// The schedule's period: a dead-lettered cluster is queued again by the next schedule.
const SCHEDULE_PERIOD: Duration = Duration::from_secs(300);

/// How long a message that fails every try blocks its cluster before it is dead-lettered:
/// the retry delays between its `max_receive_count` tries (without jitter or run time).
fn retry_window(max_receive_count: u64) -> Duration {
    (1..max_receive_count)
        .map(|n| retry_delay(n, Duration::ZERO))
        .sum()
}

#[test]
fn the_default_tries_retry_for_minutes_and_dead_letter_within_a_schedule_period() {
    let sam = cloudformation("template.yaml")["Parameters"]["FleetMaxReceiveCount"]["Default"]
        .as_u64()
        .unwrap();
    let variable = squash(&hcl_block(
        &read("terraform/variables.tf"),
        r#"variable "fleet_max_receive_count""#,
        "variables.tf",
    ));
    assert!(
        variable.contains(&format!("default = {sam}")),
        "variables.tf: the same default as SAM ({sam}): {variable}"
    );
    let window = retry_window(sam);
    assert!(
        window >= Duration::from_secs(120),
        "{sam} tries retry for {window:?}: too short to ride out a blip"
    );
    assert!(
        window < SCHEDULE_PERIOD,
        "{sam} tries block the cluster for {window:?}, longer than a schedule period"
    );
}

#[test]
fn sam_work_queue_is_fifo_with_a_dead_letter_queue_and_a_visibility_any_timeout_fits() {
    let template = cloudformation("template.yaml");
    let resources = &template["Resources"];
    let queue = &resources["WorkQueue"]["Properties"];
    assert_eq!(queue["FifoQueue"], true);
    assert_eq!(queue["ContentBasedDeduplication"], false);
    let longest_timeout = template["Parameters"]["Timeout"]["MaxValue"]
        .as_u64()
        .unwrap();
    let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
    // Lambda refuses a mapping whose queue's visibility timeout is below the function's.
    assert!(
        visibility >= longest_timeout,
        "the visibility timeout ({visibility} s) must be at least any function Timeout"
    );
    // Failed records are retried by the function within a minute; the queue's own timeout
    // only holds an invocation that died, and must not freeze a cluster for hours.
    assert!(
        visibility <= longest_timeout + 60,
        "visibility timeout {visibility} s: no more than the largest Timeout + 60 s"
    );
    assert_eq!(
        queue["RedrivePolicy"],
        json!({"deadLetterTargetArn": "WorkDeadLetterQueue.Arn", "maxReceiveCount": "FleetMaxReceiveCount"})
    );
    assert_eq!(
        resources["WorkDeadLetterQueue"]["Properties"]["FifoQueue"],
        true
    );
    let alarm = &resources["WorkDeadLetterAlarm"]["Properties"];
    assert_eq!(
        alarm["Dimensions"][0]["Value"],
        "WorkDeadLetterQueue.QueueName"
    );
}

#[test]
fn sam_event_source_mapping_reports_batch_item_failures_with_bounded_concurrency() {
    let template = cloudformation("template.yaml");
    let parameters = &template["Parameters"];
    let mapping = &template["Resources"]["WorkQueueMapping"];
    assert_eq!(mapping["Type"], "AWS::Lambda::EventSourceMapping");
    let p = &mapping["Properties"];
    assert_eq!(p["EventSourceArn"], "WorkQueue.Arn");
    assert_eq!(
        p["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(p["BatchSize"], "FleetBatchSize");
    assert_eq!(
        p["ScalingConfig"]["MaximumConcurrency"],
        "FleetMaximumConcurrency"
    );
    assert_eq!(
        parameters["FleetBatchSize"]["MaxValue"], 10,
        "FIFO: 10 at most"
    );
    let workers = parameters["FleetMaximumConcurrency"]["Default"]
        .as_u64()
        .unwrap();
    let reserved = parameters["FleetReservedConcurrency"]["Default"]
        .as_u64()
        .unwrap();
    assert!(
        reserved >= workers + 2,
        "reserved concurrency leaves room for the dispatcher"
    );
}

#[test]
fn sam_fleet_policy_is_least_privilege_on_the_work_queue() {
    let template = cloudformation("template.yaml");
    let statements =
        &template["Resources"]["FleetPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(
        statements,
        &json!([
            {"Sid": "DispatchClusters", "Effect": "Allow", "Action": "sqs:SendMessage",
             "Resource": "WorkQueue.Arn"},
            {"Sid": "DrainClusters", "Effect": "Allow",
             "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
             "Resource": "WorkQueue.Arn"},
            {"Sid": "RetryFailedClustersSoon", "Effect": "Allow",
             "Action": "sqs:ChangeMessageVisibility", "Resource": "WorkQueue.Arn"},
        ])
    );
}

/// Issue 20: a work message is obeyed, so the work queue's own policy denies
/// `sqs:SendMessage` to every principal but the function's role (no IAM grant elsewhere in
/// the account can open it), and grants nothing.
#[test]
fn sam_only_the_functions_role_may_send_to_the_work_queue() {
    let template = cloudformation("template.yaml");
    let resources = &template["Resources"];
    let statements = resources["WorkQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert!(
        statements.iter().all(|s| s["Effect"] == "Deny"),
        "the work queue policy grants nothing: {statements:?}"
    );
    let only = statements
        .iter()
        .find(|s| s["Sid"] == "OnlyTheFunctionSends")
        .expect("template.yaml WorkQueuePolicy: no OnlyTheFunctionSends");
    assert_eq!(
        only,
        &json!({"Sid": "OnlyTheFunctionSends", "Effect": "Deny", "Principal": "*",
            "Action": "sqs:SendMessage", "Resource": "WorkQueue.Arn",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": "FunctionRole.Arn"}}})
    );
    // The role excepted is the one the dispatcher's grant is attached to.
    assert_eq!(
        resources["FleetPolicy"]["Properties"]["RoleName"],
        "FunctionRole"
    );
    assert_eq!(
        resources["Function"]["Properties"]["Role"],
        "FunctionRole.Arn"
    );
}

#[test]
fn terraform_only_the_functions_role_may_send_to_the_work_queue() {
    let path = "terraform/fleet.tf";
    let fleet = read(path);
    let policy = squash(&hcl_block(
        &fleet,
        r#"resource "aws_sqs_queue_policy" "work""#,
        path,
    ));
    for needle in [
        r#"each.key != "work" ? [] : [{"#,
        r#"Sid = "OnlyTheFunctionSends" Effect = "Deny" Principal = "*" Action = "sqs:SendMessage" Resource = each.value.arn"#,
        r#"Condition = { ArnNotEquals = { "aws:PrincipalArn" = aws_iam_role.function.arn } }"#,
    ] {
        assert!(
            policy.contains(needle),
            "{path}: lacks `{needle}`: {policy}"
        );
    }
    assert!(
        !policy.contains("\"Allow\""),
        "{path}: grants nothing: {policy}"
    );
    let function = squash(&hcl_block(
        &read("terraform/main.tf"),
        r#"resource "aws_lambda_function" "this""#,
        "main.tf",
    ));
    assert!(
        function.contains("role = aws_iam_role.function.arn"),
        "{function}"
    );
}

#[test]
fn terraform_fleet_mode_mirrors_the_sam_switch() {
    let fleet = read("terraform/fleet.tf");
    let variables = squash(&hcl_block(
        &read("terraform/variables.tf"),
        r#"variable "fleet""#,
        "variables.tf",
    ));
    assert!(
        variables.contains("default = false"),
        "fleet is off by default"
    );
    let queue = squash(&hcl_block(
        &fleet,
        r#"resource "aws_sqs_queue" "work""#,
        "fleet.tf",
    ));
    for needle in [
        "fifo_queue = true",
        "content_based_deduplication = false",
        "visibility_timeout_seconds = local.work_queue_visibility_timeout",
        "deadLetterTargetArn = aws_sqs_queue.work_dead_letter[0].arn",
    ] {
        assert!(
            queue.contains(needle),
            "fleet.tf work queue lacks `{needle}`"
        );
    }
    let squashed = squash(&fleet);
    assert!(squashed.contains("work_queue_visibility_timeout = var.timeout + 60"));
    let mapping = squash(&hcl_block(
        &fleet,
        r#"resource "aws_lambda_event_source_mapping" "work""#,
        "fleet.tf",
    ));
    for needle in [
        r#"function_response_types = ["ReportBatchItemFailures"]"#,
        "batch_size = var.fleet_batch_size",
        "maximum_concurrency = var.fleet_maximum_concurrency",
    ] {
        assert!(
            mapping.contains(needle),
            "fleet.tf mapping lacks `{needle}`"
        );
    }
    assert!(squashed.contains(&format!("{QUEUE_URL_ENV} = aws_sqs_queue.work[0].url")));
    let policy = squash(&hcl_block(
        &fleet,
        r#"resource "aws_iam_role_policy" "fleet""#,
        "fleet.tf",
    ));
    assert!(policy.contains(r#"Action = "sqs:SendMessage""#), "{policy}");
    assert!(
        policy.contains(
            r#"Action = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]"#
        ),
        "{policy}"
    );
    assert!(
        policy.contains(
            r#"Action = "sqs:ChangeMessageVisibility" Resource = aws_sqs_queue.work[0].arn"#
        ),
        "{policy}"
    );
}

// --- Many accounts (issue 14): member accounts forward to the central bus, which accepts
// the organization. ---

/// Issue 20: the organization's principals may put events on a bus of their own, never on
/// the bus the function's own IAM events arrive on (the default bus, which other rules of the
/// account may act on); the function listens there with the same rule as on its own bus.
#[test]
fn the_organization_gets_a_bus_of_its_own_and_the_forwarder_can_target_it() {
    let path = "template.yaml";
    let template = cloudformation(path);
    let resources = &template["Resources"];
    for name in [
        "OrganizationEventBus",
        "OrganizationEventsPolicy",
        "OrganizationIamEvents",
        "OrganizationIamEventsPermission",
    ] {
        assert_eq!(
            resources[name]["Condition"], "HasOrganization",
            "{path} {name}: only with an organization"
        );
    }
    assert_eq!(
        resources["OrganizationEventBus"]["Type"],
        "AWS::Events::EventBus"
    );
    let policy = &resources["OrganizationEventsPolicy"]["Properties"];
    assert_eq!(policy["EventBusName"], "OrganizationEventBus");
    let statement = &policy["Statement"];
    assert_eq!(statement["Action"], "events:PutEvents");
    assert_eq!(statement["Resource"], "OrganizationEventBus.Arn");
    assert_eq!(
        statement["Condition"],
        json!({"StringEquals": {"aws:PrincipalOrgID": "OrganizationId"}})
    );
    assert_eq!(template["Parameters"]["OrganizationId"]["Default"], "");
    // No bus policy opens IamEventsBusName (or any bus but the organization's).
    let bus_policies: Vec<&serde_json::Value> = resources
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Events::EventBusPolicy")
        .collect();
    assert_eq!(bus_policies.len(), 1, "{path}: one bus policy");

    // The function's rule on the organization's bus matches what its own rule matches.
    let rule = &resources["OrganizationIamEvents"]["Properties"];
    let own = at(
        &template,
        path,
        "/Resources/Function/Properties/Events/IamEvents/Properties",
    );
    assert_eq!(rule["EventBusName"], "OrganizationEventBus");
    assert_eq!(rule["EventPattern"], own["Pattern"]);
    let target = &rule["Targets"][0];
    assert_eq!(target["Arn"], "Function.Arn");
    assert_eq!(target["RetryPolicy"], own["RetryPolicy"]);
    assert_eq!(target["DeadLetterConfig"]["Arn"], "DeadLetterQueue.Arn");
    let permission = &resources["OrganizationIamEventsPermission"]["Properties"];
    assert_eq!(permission["SourceArn"], "OrganizationIamEvents.Arn");
    assert_eq!(permission["Principal"], "events.amazonaws.com");
    let dead_letter_sources = &resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
        [0]["Condition"]["ArnEquals"]["aws:SourceArn"];
    assert!(
        dead_letter_sources.as_array().unwrap().contains(&json!([
            "HasOrganization",
            "OrganizationIamEvents.Arn",
            "AWS::NoValue"
        ])),
        "{dead_letter_sources}"
    );
    assert_eq!(
        template["Outputs"]["OrganizationEventBusName"]["Value"],
        "OrganizationEventBus"
    );

    let path = "deploy/iam-events-forwarder.yaml";
    let forwarder = cloudformation(path);
    assert_eq!(forwarder["Parameters"]["TargetAccountId"]["Default"], "");
    let target = &at(
        &forwarder,
        path,
        "/Resources/ForwardRule/Properties/Targets",
    )[0];
    assert_eq!(
        target["Arn"][1]["Account"],
        json!(["HasTargetAccount", "TargetAccountId", "AWS::AccountId"])
    );
}

#[test]
fn terraform_organization_gets_a_bus_of_its_own_as_in_sam() {
    let variables = squash(&hcl_block(
        &read("terraform/variables.tf"),
        r#"variable "organization_id""#,
        "variables.tf",
    ));
    assert!(variables.contains(r#"default = """#), "{variables}");
    let path = "terraform/main.tf";
    let main = read(path);
    assert!(
        squash(&main).contains(
            r#"organization_bus_names = var.organization_id == "" ? [] : ["${var.function_name}-organization"]"#
        ),
        "{path}: the organization's bus, only with an organization"
    );
    assert_eq!(
        main.matches(r#"resource "aws_cloudwatch_event_bus_policy""#)
            .count(),
        1,
        "{path}: one bus policy"
    );
    let resources: [(&str, &[&str]); 5] = [
        (
            r#"resource "aws_cloudwatch_event_bus" "organization""#,
            &["for_each = toset(local.organization_bus_names)"],
        ),
        (
            r#"resource "aws_cloudwatch_event_bus_policy" "organization""#,
            &[
                "for_each = aws_cloudwatch_event_bus.organization",
                "event_bus_name = each.value.name",
                r#"Principal = "*""#,
                r#"Action = "events:PutEvents""#,
                "Resource = each.value.arn",
                r#"Condition = { StringEquals = { "aws:PrincipalOrgID" = var.organization_id } }"#,
            ],
        ),
        (
            r#"resource "aws_cloudwatch_event_rule" "organization_iam_events""#,
            &[
                "for_each = aws_cloudwatch_event_bus.organization",
                "event_bus_name = each.value.name",
                "event_pattern = local.iam_event_pattern",
            ],
        ),
        (
            r#"resource "aws_cloudwatch_event_target" "organization_iam_events""#,
            &[
                "event_bus_name = each.value.event_bus_name",
                "arn = aws_lambda_function.this.arn",
                "maximum_retry_attempts = 4",
                "arn = aws_sqs_queue.dead_letter.arn",
            ],
        ),
        (
            r#"resource "aws_lambda_permission" "organization_iam_events""#,
            &[
                r#"principal = "events.amazonaws.com""#,
                "source_arn = each.value.arn",
            ],
        ),
    ];
    for (resource, needles) in resources {
        let body = squash(&hcl_block(&main, resource, path));
        for needle in needles {
            assert!(
                body.contains(needle),
                "{path}: {resource} lacks `{needle}`: {body}"
            );
        }
    }
    let dead_letters = squash(&hcl_block(
        &main,
        r#"resource "aws_sqs_queue_policy" "dead_letter""#,
        path,
    ));
    assert!(
        dead_letters
            .contains("[for rule in aws_cloudwatch_event_rule.organization_iam_events : rule.arn]"),
        "{path}: the organization rule may dead-letter: {dead_letters}"
    );
}

#[test]
fn terraform_member_account_forwarder_targets_the_central_bus_with_the_handlers_events() {
    let path = "terraform/forwarder/main.tf";
    let main = read(path);
    let locals = hcl_block(&main, "locals {", path);
    let names: Vec<String> = hcl_block(&locals, "iam_event_names =", path)
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = eks_iam_sync::events::IAM_EVENT_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(names), sorted(expected), "{path}: iam_event_names");
    let squashed = squash(&locals);
    for needle in [
        // By default the bus the main module creates for the organization (never `default`).
        r#"target_bus_name = coalesce(var.target_event_bus_name, "${var.name}-organization")"#,
        r#"target_bus = "arn:${local.partition}:events:${var.target_region}:${var.target_account_id}:event-bus/${local.target_bus_name}""#,
        "eventName = local.iam_event_names",
        "errorCode = [{ exists = false }]",
    ] {
        assert!(squashed.contains(needle), "{path}: lacks `{needle}`");
    }
    let resources: [(&str, &[&str]); 3] = [
        (
            r#"resource "aws_cloudwatch_event_target" "forward""#,
            &[
                "arn = local.target_bus",
                "role_arn = aws_iam_role.forward.arn",
            ],
        ),
        (
            r#"resource "aws_cloudwatch_event_rule" "forward""#,
            &["event_pattern = local.iam_event_pattern"],
        ),
        (
            r#"resource "aws_iam_role_policy" "forward""#,
            &[
                r#"Action = "events:PutEvents""#,
                "Resource = local.target_bus",
            ],
        ),
    ];
    for (resource, needles) in resources {
        let body = squash(&hcl_block(&main, resource, path));
        for needle in needles {
            assert!(
                body.contains(needle),
                "{path}: {resource} lacks `{needle}`: {body}"
            );
        }
    }
}
