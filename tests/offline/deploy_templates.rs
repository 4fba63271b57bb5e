//! The deployment templates route exactly the IAM events the handler reacts to.
//!
//! `template.yaml` (SAM), `deploy/iam-events-forwarder.yaml` (the us-east-1 forwarder) and the
//! Terraform module must list exactly [`IAM_EVENT_NAMES`] in their EventBridge patterns, with
//! the CloudTrail envelope (`source`, `detail-type`, `eventSource`) and failed calls filtered
//! out, so the templates and the handler cannot drift apart. Also checked: the schedule's
//! default and the function settings issue 7 fixes (runtime, architecture, concurrency), the
//! run alarms of issue 20 (`NotApplied`, `Refusals` on the function's own metrics), and
//! fleet mode's switch (issue 14, in `deploy_fleet.rs`).
//! scripts/check-deploy.sh validates the same files with cfn-lint, SAM, checkov and terraform fmt.

use std::collections::BTreeSet;

use eks_iam_sync::events::{CLOUDTRAIL_API_CALL, IAM_EVENT_NAMES};
use eks_iam_sync::reconcile::RunSummary;
use eks_iam_sync::telemetry::{FUNCTION_NAME_DIMENSION, METRICS_NAMESPACE, metric_counts};
use serde_json::{Value, json};

use crate::deploy_support::{at, cloudformation, hcl_block, read, squash};

fn expected_names() -> BTreeSet<String> {
    IAM_EVENT_NAMES.iter().map(|n| n.to_string()).collect()
}

/// Checks one EventBridge pattern: the envelope, exactly the handler's event names (no
/// duplicates), failed calls excluded, nothing else.
fn assert_iam_pattern(pattern: &Value, what: &str) {
    let names = pattern
        .pointer("/detail/eventName")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{what}: no detail.eventName list in {pattern}"));
    let listed: Vec<String> = names
        .iter()
        .map(|n| {
            n.as_str()
                .unwrap_or_else(|| panic!("{what}: event name {n} is not a string"))
        })
        .map(str::to_owned)
        .collect();
    let set: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(
        set.len(),
        listed.len(),
        "{what}: duplicate event names in {listed:?}"
    );
    let expected = expected_names();
    assert!(
        set == expected,
        "{what}: event names differ from eks_iam_sync::events::IAM_EVENT_NAMES\n  missing: {:?}\n  extra: {:?}",
        expected.difference(&set).collect::<Vec<_>>(),
        set.difference(&expected).collect::<Vec<_>>(),
    );

    let mut rest = pattern.clone();
    rest["detail"]
        .as_object_mut()
        .expect("detail is an object")
        .remove("eventName");
    assert_eq!(
        rest,
        json!({
            "source": ["aws.iam"],
            "detail-type": [CLOUDTRAIL_API_CALL],
            "detail": {
                "eventSource": ["iam.amazonaws.com"],
                "errorCode": [{"exists": false}],
            },
        }),
        "{what}: the pattern's envelope or filters are not the expected ones"
    );
}

/// The function's SAM events of one type, by name.
fn sam_events<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    at(
        template,
        "template.yaml",
        "/Resources/Function/Properties/Events",
    )
    .as_object()
    .expect("Events is a mapping")
    .iter()
    .filter(|(_, event)| event["Type"] == kind)
    .collect()
}

#[test]
fn sam_iam_events_rule_lists_exactly_the_handlers_event_names() {
    let template = cloudformation("template.yaml");
    let rules = sam_events(&template, "EventBridgeRule");
    assert_eq!(
        rules.len(),
        1,
        "template.yaml: expected one EventBridgeRule event, got {rules:?}"
    );
    let (name, rule) = rules[0];
    assert_iam_pattern(
        &rule["Properties"]["Pattern"],
        &format!("template.yaml Events.{name}"),
    );
    let properties = &rule["Properties"];
    assert!(
        properties["DeadLetterConfig"].is_object() && properties["RetryPolicy"].is_object(),
        "template.yaml Events.{name}: needs RetryPolicy and DeadLetterConfig"
    );
}

#[test]
fn sam_schedule_defaults_to_every_five_minutes() {
    let template = cloudformation("template.yaml");
    let schedules = sam_events(&template, "Schedule");
    assert_eq!(
        schedules.len(),
        1,
        "template.yaml: expected one Schedule event, got {schedules:?}"
    );
    // `Schedule: !Ref ScheduleExpression` reads as the parameter's name.
    let parameter = schedules[0].1["Properties"]["Schedule"]
        .as_str()
        .expect("the schedule refers to a parameter");
    let default = at(
        &template,
        "template.yaml",
        &format!("/Parameters/{parameter}/Default"),
    );
    assert_eq!(
        default, "rate(5 minutes)",
        "template.yaml: parameter {parameter}"
    );
}

#[test]
fn sam_function_settings() {
    let template = cloudformation("template.yaml");
    let function = at(&template, "template.yaml", "/Resources/Function");
    assert_eq!(function["Type"], "AWS::Serverless::Function");
    let p = &function["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Architectures"], json!(["arm64"]));
    // 1 in place; in fleet mode (issue 14) the FleetReservedConcurrency parameter.
    assert_eq!(
        p["ReservedConcurrentExecutions"],
        json!(["Fleet", "FleetReservedConcurrency", 1])
    );
    assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON");
    let memory = p["MemorySize"]
        .as_str()
        .expect("MemorySize: !Ref a parameter");
    assert_eq!(template["Parameters"][memory]["Default"], 128);
    // ConfigSource (SSM, S3) when set, else Config (deploy_iam.rs checks the read grants).
    let config = &p["Environment"]["Variables"]["EKS_IAM_SYNC_CONFIG"];
    assert_eq!(
        config,
        &json!(["HasConfigSource", "ConfigSource", "Config"])
    );
    for parameter in ["ConfigSource", "Config"] {
        assert!(
            template["Parameters"][parameter].is_object(),
            "EKS_IAM_SYNC_CONFIG must come from parameters, got {config}"
        );
    }
}

#[test]
fn forwarder_rule_lists_exactly_the_handlers_event_names() {
    let path = "deploy/iam-events-forwarder.yaml";
    let template = cloudformation(path);
    let rule = at(&template, path, "/Resources/ForwardRule");
    assert_eq!(rule["Type"], "AWS::Events::Rule");
    assert_iam_pattern(&rule["Properties"]["EventPattern"], path);
}

/// samconfig.toml's example sets only parameters template.yaml has, and its configuration
/// passes the product's own validation.
#[test]
fn samconfig_example_matches_the_template() {
    let template = cloudformation("template.yaml");
    let samconfig = read("samconfig.toml");
    let section = samconfig
        .split("[default.deploy.parameters.parameter_overrides]")
        .nth(1)
        .expect("samconfig.toml: no parameter_overrides table");
    let section = section.split("\n[").next().unwrap_or_default();
    let mut keys = Vec::new();
    for line in section.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("samconfig.toml: unexpected line {line:?}"));
        assert!(
            template["Parameters"][key].is_object(),
            "samconfig.toml sets {key}, which template.yaml does not have"
        );
        keys.push(key);
        if key == "Config" {
            let json = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .expect("Config is a TOML literal string");
            eks_iam_sync::config::from_text(json, "samconfig.toml Config", None)
                .unwrap_or_else(|e| panic!("samconfig.toml Config does not validate: {e}"));
        }
    }
    assert!(keys.contains(&"Config"), "samconfig.toml sets no Config");
}

// --- Terraform: a small, targeted reading of the HCL (no HCL parser among our dependencies;
// scripts/check-deploy.sh parses every .tf file with python-hcl2). ---

fn string_literals(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn terraform_patterns_list_exactly_the_handlers_event_names() {
    let path = "terraform/main.tf";
    let main = read(path);
    let locals = hcl_block(&main, "locals {", path);

    let names = string_literals(&hcl_block(&locals, "iam_event_names =", path));
    let set: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(
        set.len(),
        names.len(),
        "{path}: duplicate event names in {names:?}"
    );
    assert_eq!(
        set,
        expected_names(),
        "{path}: local.iam_event_names differs from eks_iam_sync::events::IAM_EVENT_NAMES"
    );

    let pattern = squash(&hcl_block(&locals, "iam_event_pattern = jsonencode(", path));
    for needle in [
        r#"source = ["aws.iam"]"#,
        &format!(r#""detail-type" = ["{CLOUDTRAIL_API_CALL}"]"#),
        r#"eventSource = ["iam.amazonaws.com"]"#,
        "eventName = local.iam_event_names",
        "errorCode = [{ exists = false }]",
    ] {
        assert!(
            pattern.contains(needle),
            "{path}: iam_event_pattern lacks `{needle}`: {pattern}"
        );
    }
    // source, detail-type, detail, eventSource, eventName, errorCode, exists: nothing more.
    let keys = pattern.matches(" = ").count();
    assert_eq!(
        keys, 7,
        "{path}: iam_event_pattern has unexpected keys: {pattern}"
    );

    // Every rule (the function's region, the us-east-1 forwarder, the organization's bus)
    // uses that one pattern.
    let main_squashed = squash(&main);
    let patterns = main_squashed.matches(" event_pattern =").count();
    let uses = main_squashed
        .matches(" event_pattern = local.iam_event_pattern")
        .count();
    assert_eq!(
        (patterns, uses),
        (3, 3),
        "{path}: every event_pattern must be local.iam_event_pattern"
    );
    for rule in [
        r#"resource "aws_cloudwatch_event_rule" "iam_events""#,
        r#"resource "aws_cloudwatch_event_rule" "forward""#,
        r#"resource "aws_cloudwatch_event_rule" "organization_iam_events""#,
    ] {
        let body = squash(&hcl_block(&main, rule, path));
        assert!(
            body.contains("event_pattern = local.iam_event_pattern"),
            "{path}: {rule}"
        );
    }
}

#[test]
fn terraform_schedule_defaults_to_every_five_minutes() {
    let variables = read("terraform/variables.tf");
    let block = squash(&hcl_block(
        &variables,
        r#"variable "schedule_expression""#,
        "variables.tf",
    ));
    assert!(
        block.contains(r#"default = "rate(5 minutes)""#),
        "terraform/variables.tf: schedule_expression default: {block}"
    );
    let main = read("terraform/main.tf");
    let rule = squash(&hcl_block(
        &main,
        r#"resource "aws_cloudwatch_event_rule" "schedule""#,
        "main.tf",
    ));
    assert!(
        rule.contains("schedule_expression = var.schedule_expression"),
        "main.tf: {rule}"
    );
}

#[test]
fn terraform_function_settings() {
    let main = read("terraform/main.tf");
    let function = squash(&hcl_block(
        &main,
        r#"resource "aws_lambda_function" "this""#,
        "main.tf",
    ));
    for needle in [
        r#"runtime = "provided.al2023""#,
        r#"architectures = ["arm64"]"#,
        // 1 in place; in fleet mode (issue 14) local.reserved_concurrency (fleet.tf).
        "reserved_concurrent_executions = local.reserved_concurrency",
        r#"log_format = "JSON""#,
        r#"EKS_IAM_SYNC_CONFIG = var.config_source != "" ? var.config_source : var.config"#,
    ] {
        assert!(
            function.contains(needle),
            "terraform/main.tf aws_lambda_function lacks `{needle}`"
        );
    }
    let variables = read("terraform/variables.tf");
    let memory = squash(&hcl_block(
        &variables,
        r#"variable "memory_size""#,
        "variables.tf",
    ));
    assert!(
        memory.contains("default = 128"),
        "variables.tf memory_size: {memory}"
    );
}

// --- Run alarms (issue 20): NotApplied > 0 and Refusals > 0, sustained, on the function's own
// metrics, notifying the alarm topic. ---

/// The metrics the alarms watch, and the names of every metric a run's line carries.
const RUN_ALARM_METRICS: [&str; 2] = ["NotApplied", "Refusals"];

fn emitted_metric_names() -> BTreeSet<&'static str> {
    let summary = RunSummary {
        reason: "names only".to_owned(),
        dry_run: false,
        clusters: Vec::new(),
        iam_calls: 0,
        eks_calls: 0,
        history_calls: 0,
    };
    metric_counts(&summary).into_keys().collect()
}

#[test]
fn sam_alarms_on_not_applied_and_refusals_sustained_for_a_parameter_of_periods() {
    let template = cloudformation("template.yaml");
    let emitted = emitted_metric_names();
    let for_each = at(
        &template,
        "template.yaml",
        "/Resources/Fn::ForEach::RunAlarms",
    );
    assert_eq!(for_each[0], "MetricName");
    assert_eq!(for_each[1], json!(RUN_ALARM_METRICS));
    for metric in RUN_ALARM_METRICS {
        assert!(emitted.contains(metric), "{metric} is not in {emitted:?}");
    }
    let alarm = &for_each[2]["${MetricName}Alarm"];
    assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm");
    let p = &alarm["Properties"];
    assert_eq!(p["Namespace"], METRICS_NAMESPACE);
    assert_eq!(p["MetricName"], "MetricName", "!Ref MetricName");
    assert_eq!(
        p["Dimensions"],
        json!([{"Name": FUNCTION_NAME_DIMENSION, "Value": "Function"}]),
        "the function's own metrics, not every stack's"
    );
    assert_eq!(p["Threshold"], 0);
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(p["EvaluationPeriods"], "AlarmEvaluationPeriods");
    assert_eq!(p["DatapointsToAlarm"], "AlarmEvaluationPeriods");
    assert_eq!(
        p["AlarmActions"],
        json!(["HasAlarmTopic", ["AlarmTopicArn"], "AWS::NoValue"])
    );
    let periods = &template["Parameters"]["AlarmEvaluationPeriods"];
    assert_eq!(periods["Type"], "Number");
    assert!(
        periods["Default"].as_u64().unwrap() >= 2,
        "sustained: {periods}"
    );
    assert_eq!(periods["MinValue"], 1);
}

#[test]
fn terraform_alarms_on_not_applied_and_refusals_as_sam_does() {
    let path = "terraform/main.tf";
    let main = read(path);
    let alarm = squash(&hcl_block(
        &main,
        r#"resource "aws_cloudwatch_metric_alarm" "runs""#,
        path,
    ));
    let metrics = format!(
        "for_each = toset([{}])",
        RUN_ALARM_METRICS.map(|m| format!("\"{m}\"")).join(", ")
    );
    for needle in [
        metrics.as_str(),
        &format!(r#"namespace = "{METRICS_NAMESPACE}""#),
        "metric_name = each.key",
        &format!(
            "dimensions = {{ {FUNCTION_NAME_DIMENSION} = aws_lambda_function.this.function_name }}"
        ),
        "evaluation_periods = var.alarm_evaluation_periods",
        "datapoints_to_alarm = var.alarm_evaluation_periods",
        "threshold = 0",
        r#"comparison_operator = "GreaterThanThreshold""#,
        "alarm_actions = local.alarm_actions",
    ] {
        assert!(alarm.contains(needle), "{path}: lacks `{needle}`: {alarm}");
    }
    assert!(
        squash(&main)
            .contains("alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]"),
        "{path}: the alarm actions are the alarm_topic_arn variable"
    );
    let variable = squash(&hcl_block(
        &read("terraform/variables.tf"),
        r#"variable "alarm_evaluation_periods""#,
        "variables.tf",
    ));
    let sam_default =
        cloudformation("template.yaml")["Parameters"]["AlarmEvaluationPeriods"]["Default"].clone();
    assert!(
        variable.contains(&format!("default = {sam_default}")),
        "variables.tf alarm_evaluation_periods: the same default as SAM ({sam_default}): {variable}"
    );
}

/// The HCL reader above must fail loudly, not pass on text it misreads.
#[test]
fn hcl_reader_skips_strings_and_rejects_unbalanced_text() {
    let text = r#"locals { a = "}{" b = ["x]", "y"] }"#;
    assert_eq!(
        squash(&hcl_block(text, "locals", "t")),
        r#"a = "}{" b = ["x]", "y"]"#
    );
    assert_eq!(string_literals(&hcl_block(text, "b =", "t")), ["x]", "y"]);
    let unbalanced = std::panic::catch_unwind(|| hcl_block("locals { a = [", "locals", "t"));
    assert!(unbalanced.is_err());
}

// --- Deploying a released package without building (issue 24): Terraform takes a local zip or
// an S3 object; SAM's local CodeUri is where the README unzips a release. ---

#[test]
fn terraform_function_takes_a_local_zip_or_an_s3_object_exactly_one() {
    let main = read("terraform/main.tf");
    let function = squash(&hcl_block(
        &main,
        r#"resource "aws_lambda_function" "this""#,
        "main.tf",
    ));
    for needle in [
        "filename = var.lambda_zip_path",
        "s3_bucket = var.lambda_s3_bucket",
        "s3_key = var.lambda_s3_key",
        "s3_object_version = var.lambda_s3_object_version",
        "source_code_hash = var.lambda_zip_path != null ? filebase64sha256(var.lambda_zip_path) : var.lambda_source_code_hash",
        "condition = (var.lambda_zip_path != null) != (var.lambda_s3_bucket != null && var.lambda_s3_key != null)",
    ] {
        assert!(
            function.contains(needle),
            "terraform/main.tf aws_lambda_function lacks `{needle}`: {function}"
        );
    }
    let variables = read("terraform/variables.tf");
    for name in [
        "lambda_zip_path",
        "lambda_s3_bucket",
        "lambda_s3_key",
        "lambda_s3_object_version",
        "lambda_source_code_hash",
    ] {
        let block = squash(&hcl_block(
            &variables,
            &format!(r#"variable "{name}""#),
            "variables.tf",
        ));
        assert!(
            block.contains("type = string") && block.contains("default = null"),
            "variables.tf {name}: an optional string: {block}"
        );
    }
}

#[test]
fn terraform_examples_build_from_source_by_default_and_take_a_release_zip_as_a_variable() {
    for example in ["same-region", "cross-region"] {
        let path = format!("terraform/examples/{example}/main.tf");
        let text = read(&path);
        let variable = squash(&hcl_block(&text, r#"variable "lambda_zip_path""#, &path));
        assert!(
            variable.contains(r#"default = "../../../target/lambda/eks-iam-sync/bootstrap.zip""#),
            "{path}: the default is cargo lambda's zip: {variable}"
        );
        let module = squash(&hcl_block(&text, r#"module "eks_iam_sync""#, &path));
        assert!(
            module.contains("lambda_zip_path = var.lambda_zip_path"),
            "{path}: {module}"
        );
    }
}

#[test]
fn sam_code_uri_is_where_a_build_and_the_readme_s_release_unzip_put_bootstrap() {
    let template = cloudformation("template.yaml");
    let code_uri = at(
        &template,
        "template.yaml",
        "/Resources/Function/Properties/CodeUri",
    );
    assert_eq!(code_uri, "target/lambda/eks-iam-sync/");
    let readme = read("README.md");
    for command in [
        "cargo lambda build --release --arm64 --bin eks-iam-sync --lambda-dir target/lambda\n",
        r#"unzip -o "eks-iam-sync-$V-lambda-arm64.zip" -d target/lambda/eks-iam-sync/"#,
    ] {
        assert!(
            readme.contains(command),
            "README: no `{command}` filling {code_uri}"
        );
    }
}
