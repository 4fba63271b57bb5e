//! Least privilege, checked (issue 13): the function role's grants in `template.yaml` and
//! `terraform/` drop `eks:ListAccessPolicies` (never called), grant no `eks:UntagResource`,
//! allow `eks:TagResource` only on access-entry ARNs with the ownership request tags, and the
//! README's permission table names every action the templates grant.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::deploy_support::{cloudformation, read, squash};

/// Every statement of the policies attached to roles (`!If [cond, stmt, NoValue]` unwrapped).
fn sam_role_statements(template: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let resources = template["Resources"].as_object().unwrap();
    for resource in resources.values() {
        let documents: Vec<&Value> = match resource["Type"].as_str() {
            Some("AWS::IAM::RolePolicy") => vec![&resource["Properties"]["PolicyDocument"]],
            Some("AWS::IAM::Role") => resource["Properties"]["Policies"]
                .as_array()
                .map(|p| p.iter().map(|p| &p["PolicyDocument"]).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for document in documents {
            for item in document["Statement"].as_array().unwrap() {
                match item {
                    Value::Array(branches) => {
                        out.extend(branches.iter().filter(|b| b.is_object()).cloned());
                    }
                    other => out.push(other.clone()),
                }
            }
        }
    }
    out
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn sid<'a>(statements: &'a [Value], sid: &str) -> &'a Value {
    statements
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("template.yaml: no statement {sid}"))
}

#[test]
fn sam_eks_grants_are_least_privilege() {
    let template = cloudformation("template.yaml");
    let statements = sam_role_statements(&template);
    let granted: BTreeSet<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(actions)
        .collect();
    assert!(!granted.contains("eks:ListAccessPolicies"), "{granted:?}");
    assert!(!granted.contains("eks:UntagResource"), "{granted:?}");
    let tagging: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow" && actions(s).contains(&"eks:TagResource".to_owned()))
        .collect();
    assert_eq!(tagging.len(), 1, "eks:TagResource in one statement only");
    let tag = sid(&statements, "OwnershipTagsOnCreate");
    assert_eq!(actions(tag), ["eks:TagResource"]);
    assert_eq!(
        tag["Condition"]["StringEquals"]["aws:RequestTag/eks-iam-sync/managed"],
        "true"
    );
    assert_eq!(
        tag["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
        serde_json::json!(["eks-iam-sync/managed", "eks-iam-sync/principal-id"])
    );
    // Resource: the access-entry ARNs built from the cluster ARNs, never the clusters.
    let resource = tag["Resource"].to_string();
    assert!(resource.contains(":access-entry/"), "{resource}");
    assert_eq!(
        tag["Resource"],
        sid(&statements, "ConfiguredClustersAccessEntries")["Resource"]
    );
    assert_eq!(
        sid(&statements, "ConfiguredClusters")["Resource"],
        "ClusterArns"
    );
}

#[test]
fn terraform_eks_grants_are_least_privilege() {
    let path = "terraform/main.tf";
    let main = read(path);
    // As granted (string literals), not as mentioned in comments.
    assert!(!main.contains("\"eks:ListAccessPolicies\""), "{path}");
    assert!(!main.contains("\"eks:UntagResource\""), "{path}");
    assert_eq!(main.matches("\"eks:TagResource\"").count(), 1, "{path}");
    let block_start = main.find("\"OwnershipTagsOnCreate\"").unwrap();
    let statement = squash(&main[block_start..block_start + 900]);
    for needle in [
        r#"Action = "eks:TagResource""#,
        "Resource = local.access_entry_arns",
        r#""aws:RequestTag/eks-iam-sync/managed" = "true""#,
        r#""aws:TagKeys" = ["eks-iam-sync/managed", "eks-iam-sync/principal-id"]"#,
    ] {
        assert!(
            statement.contains(needle),
            "{path}: {needle} not in {statement}"
        );
    }
}

#[test]
fn readme_names_every_action_the_templates_grant() {
    let readme = read("README.md");
    let template = cloudformation("template.yaml");
    let mut granted: BTreeSet<String> = sam_role_statements(&template)
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(actions)
        .collect();
    for path in ["terraform/main.tf", "terraform/fleet.tf"] {
        for literal in read(path).split('"').skip(1).step_by(2) {
            let is_action = literal.split_once(':').is_some_and(|(service, action)| {
                ["eks", "iam", "sts", "sqs", "logs", "ssm", "s3", "kms"].contains(&service)
                    && action
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_uppercase())
            });
            if is_action {
                granted.insert(literal.to_owned());
            }
        }
    }
    assert!(granted.contains("iam:GetRole"), "{granted:?}");
    // The trust policies' sts:AssumeRole (a service assuming the role) is not a grant.
    let missing: Vec<&String> = granted
        .iter()
        .filter(|a| !readme.contains(&format!("`{a}`")))
        .collect();
    assert!(missing.is_empty(), "README does not name {missing:?}");
}

/// The `!If [CONDITION, statement, NoValue]` item of the function policy whose statement has
/// this Sid: (condition, statement).
fn sam_conditional_statement(template: &Value, sid: &str) -> (String, Value) {
    let statements =
        template["Resources"]["FunctionPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
    statements
        .iter()
        .filter_map(Value::as_array)
        .find(|branches| branches.get(1).is_some_and(|s| s["Sid"] == sid))
        .map(|branches| {
            (
                branches[0].as_str().unwrap().to_owned(),
                branches[1].clone(),
            )
        })
        .unwrap_or_else(|| panic!("template.yaml: no conditional statement {sid}"))
}

#[test]
fn sam_config_source_grants_reading_that_one_parameter_or_object() {
    let template = cloudformation("template.yaml");
    for name in ["Config", "ConfigSource", "ConfigKmsKeyArn"] {
        assert_eq!(
            template["Parameters"][name]["Default"], "",
            "{name}: optional (exactly one of Config and ConfigSource, by Rules)"
        );
    }
    // ConfigSource's pattern accepts exactly what the binary reads as SSM or S3.
    let pattern = template["Parameters"]["ConfigSource"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(
        pattern.contains("^ssm:/") && pattern.contains("^s3://"),
        "{pattern}"
    );
    assert_eq!(
        template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]["EKS_IAM_SYNC_CONFIG"],
        serde_json::json!(["HasConfigSource", "ConfigSource", "Config"])
    );

    let (condition, ssm) = sam_conditional_statement(&template, "ReadConfigParameter");
    assert_eq!(condition, "ConfigInSsm");
    assert_eq!(ssm["Action"], "ssm:GetParameter", "one action, read only");
    let resource = ssm["Resource"].to_string();
    assert!(
        resource.contains(":ssm:${AWS::Region}:${AWS::AccountId}:parameter/${Name}")
            && resource.contains(r#""ssm:/""#),
        "the one parameter ConfigSource names: {resource}"
    );

    let (condition, s3) = sam_conditional_statement(&template, "ReadConfigObject");
    assert_eq!(condition, "ConfigInS3");
    assert_eq!(s3["Action"], "s3:GetObject", "one action, read only");
    let resource = s3["Resource"].to_string();
    assert!(
        resource.contains("arn:${AWS::Partition}:s3:::${Object}")
            && resource.contains(r#""s3://""#),
        "the one object ConfigSource names: {resource}"
    );

    let (condition, kms) = sam_conditional_statement(&template, "DecryptConfig");
    assert_eq!(condition, "HasConfigKmsKey");
    assert_eq!(kms["Action"], "kms:Decrypt");
    assert_eq!(kms["Resource"], "ConfigKmsKeyArn", "that key only");
    assert_eq!(
        kms["Condition"]["StringEquals"]["kms:ViaService"][0], "ConfigInSsm",
        "only as SSM (or S3) uses it: {kms}"
    );
    let rules = template["Rules"]["OneConfiguration"]["Assertions"].to_string();
    assert!(
        rules.contains("Config") && rules.contains("ConfigSource"),
        "{rules}"
    );
}

#[test]
fn terraform_config_source_grants_reading_that_one_parameter_or_object() {
    let main = squash(&read("terraform/main.tf"));
    for needle in [
        r#"EKS_IAM_SYNC_CONFIG = var.config_source != "" ? var.config_source : var.config"#,
        r#"Action = "ssm:GetParameter" Resource = "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(local.config_ssm_name, "/")}""#,
        r#"Action = "s3:GetObject" Resource = "arn:${local.partition}:s3:::${local.config_s3_object}""#,
        r#"Action = "kms:Decrypt" Resource = var.config_kms_key_arn"#,
        r#""kms:ViaService" = local.config_ssm_name != null ? "ssm.${local.region}.amazonaws.com" : "s3.${local.region}.amazonaws.com""#,
        r#"condition = (var.config == "") != (var.config_source == "")"#,
    ] {
        assert!(main.contains(needle), "terraform/main.tf lacks `{needle}`");
    }
    let variables = squash(&read("terraform/variables.tf"));
    for needle in [
        r#"variable "config_source""#,
        r#"variable "config_kms_key_arn""#,
        r#"can(regex("^ssm:/[A-Za-z0-9_./-]+$", var.config_source))"#,
    ] {
        assert!(
            variables.contains(needle),
            "terraform/variables.tf lacks `{needle}`"
        );
    }
}
