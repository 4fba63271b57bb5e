//! Qovery iam-eks-user-mapper's environment variables as a configuration: mapped onto a
//! [`RawConfig`] and validated like any other, with problems named after the variables.

use super::*;

/// Maps Qovery iam-eks-user-mapper's environment onto a configuration and validates it.
///
/// | Variable | Becomes |
/// |---|---|
/// | `EKS_IAM_SYNC_CLUSTER_NAME` (ours, required) + `AWS_DEFAULT_REGION` (theirs; else `AWS_REGION`) | the single cluster |
/// | `ENABLE_GROUP_USER_SYNC=true` + `IAM_K8S_GROUPS="Admins->system:masters,Devops->devops"` | one `groups` entry per IAM group, username = IAM user name; `A->x,A->y` gives A both groups |
/// | `ADMINS_USERS_ARNS` (comma-separated user ARNs) | `users` entries, username = user name, group `system:masters` |
/// | `ENABLE_SSO=true` + `IAM_SSO_ROLE_ARN` (comma-separated) | `AWSReservedSSO_<Set>_<hex>` roles become `ssoPermissionSets` entry `<Set>` (found again by name when re-provisioned); any other role a `roles` entry; username `cluster-admin-sso`, group `system:masters` |
/// | `KARPENTER_ROLE_ARN` (or `KARPENTER_ARN`, the name in that tool's README) | a `roles` entry, username `system:node:{{EC2PrivateDNSName}}`, groups `system:bootstrappers`, `system:nodes` |
///
/// As in that tool, `IAM_K8S_GROUPS` is ignored unless `ENABLE_GROUP_USER_SYNC` is true, and
/// `IAM_SSO_ROLE_ARN` unless `ENABLE_SSO` is; booleans are `true`/`false` (any case). Blank
/// items between commas are skipped. `REFRESH_INTERVAL_SECONDS` (use the schedule),
/// `SERVICE_ACCOUNT_NAME`, `AWS_ROLE_ARN` and `VERBOSE` (use `RUST_LOG`) have no meaning here
/// and are ignored. Problems name the variable, e.g. `IAM_K8S_GROUPS[1]`.
pub fn from_iam_eks_user_mapper_env(
    env: &HashMap<String, String>,
) -> Result<Settings, ConfigError> {
    let origin = "iam-eks-user-mapper environment".to_owned();
    let (raw, mut problems, origins) = raw_from_iam_eks_user_mapper_env(env);
    match validate(&raw) {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(ConfigError::Invalid {
            origin,
            problems: Problems(problems),
        }),
        Err(more) => {
            for mut p in more {
                if let Some((prefix, var)) = origins
                    .iter()
                    .find(|(prefix, _)| p.path.starts_with(prefix.as_str()))
                {
                    p.path = format!("{var} (as {}{})", prefix, &p.path[prefix.len()..]);
                }
                problems.push(p);
            }
            Err(ConfigError::Invalid {
                origin,
                problems: Problems(problems),
            })
        }
    }
}

type EnvOrigins = Vec<(String, String)>;

fn raw_from_iam_eks_user_mapper_env(
    env: &HashMap<String, String>,
) -> (RawConfig, Vec<Problem>, EnvOrigins) {
    let mut problems = Vec::new();
    let mut origins: EnvOrigins = Vec::new();
    let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let flag = |k: &str, problems: &mut Vec<Problem>| match get(k) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            problems.push(Problem::new(k, Some(v), "expected true or false"));
            false
        }
    };
    let items = |v: &str| -> Vec<(usize, String)> {
        v.split(',')
            .map(str::trim)
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .map(|(i, s)| (i, s.to_owned()))
            .collect()
    };

    let mut raw = RawConfig::default();
    let name = get(CLUSTER_NAME_ENV).unwrap_or_default().to_owned();
    if name.is_empty() {
        problems.push(Problem::new(
            CLUSTER_NAME_ENV,
            None,
            "required with the iam-eks-user-mapper variables: the name of the EKS cluster to keep in step",
        ));
    }
    let (region_var, region) = match (get("AWS_DEFAULT_REGION"), get("AWS_REGION")) {
        (Some(r), _) => ("AWS_DEFAULT_REGION", r.to_owned()),
        (None, Some(r)) => ("AWS_REGION", r.to_owned()),
        (None, None) => {
            problems.push(Problem::new(
                "AWS_DEFAULT_REGION",
                None,
                "required: the cluster's region",
            ));
            ("AWS_DEFAULT_REGION", String::new())
        }
    };
    origins.push(("clusters[0].name".to_owned(), CLUSTER_NAME_ENV.to_owned()));
    origins.push(("clusters[0].region".to_owned(), region_var.to_owned()));
    if !name.is_empty() && !region.is_empty() {
        raw.clusters.push(RawCluster {
            name,
            region,
            ..RawCluster::default()
        });
    }

    if flag("ENABLE_GROUP_USER_SYNC", &mut problems) {
        let list = items(get("IAM_K8S_GROUPS").unwrap_or_default());
        if list.is_empty() {
            problems.push(Problem::new(
                "IAM_K8S_GROUPS",
                None,
                "required when ENABLE_GROUP_USER_SYNC is true: IAM_GROUP->KUBERNETES_GROUP,...",
            ));
        }
        for (i, item) in list {
            let var = format!("IAM_K8S_GROUPS[{i}]");
            let pair = match item.split_once("->") {
                Some((iam, k8s)) if !k8s.contains("->") => Some((iam.trim(), k8s.trim())),
                _ => None,
            };
            match pair {
                Some((iam, k8s)) if !iam.is_empty() && !k8s.is_empty() => {
                    match raw.groups.iter_mut().find(|g| g.iam_group == iam) {
                        Some(g) => {
                            if !g.kubernetes_groups.iter().any(|x| x == k8s) {
                                g.kubernetes_groups.push(k8s.to_owned());
                            }
                        }
                        None => {
                            origins.push((format!("groups[{}]", raw.groups.len()), var));
                            raw.groups.push(RawGroup {
                                iam_group: iam.to_owned(),
                                kubernetes_groups: vec![k8s.to_owned()],
                                ..RawGroup::default()
                            });
                        }
                    }
                }
                _ => problems.push(Problem::new(
                    var,
                    Some(&item),
                    "expected IAM_GROUP->KUBERNETES_GROUP",
                )),
            }
        }
    }

    for (i, arn) in items(get("ADMINS_USERS_ARNS").unwrap_or_default()) {
        let username = arn.rsplit('/').next().unwrap_or_default().to_owned();
        origins.push((
            format!("users[{}]", raw.users.len()),
            format!("ADMINS_USERS_ARNS[{i}]"),
        ));
        raw.users.push(RawPrincipal {
            arn,
            username,
            kubernetes_groups: vec!["system:masters".to_owned()],
            ..RawPrincipal::default()
        });
    }

    if flag("ENABLE_SSO", &mut problems) {
        let list = items(get("IAM_SSO_ROLE_ARN").unwrap_or_default());
        if list.is_empty() {
            problems.push(Problem::new(
                "IAM_SSO_ROLE_ARN",
                None,
                "required when ENABLE_SSO is true: the SSO role ARN",
            ));
        }
        for (i, arn) in list {
            let var = format!("IAM_SSO_ROLE_ARN[{i}]");
            let set = IamArn::parse_kind(&arn, PrincipalKind::Role)
                .ok()
                .and_then(|a| sso_permission_set_of_role(a.name()).map(str::to_owned));
            match set {
                Some(name) => {
                    origins.push((
                        format!("ssoPermissionSets[{}]", raw.sso_permission_sets.len()),
                        var,
                    ));
                    raw.sso_permission_sets.push(RawSsoPermissionSet {
                        name,
                        username: QOVERY_SSO_USERNAME.to_owned(),
                        kubernetes_groups: vec!["system:masters".to_owned()],
                        ..Default::default()
                    });
                }
                None => {
                    origins.push((format!("roles[{}]", raw.roles.len()), var));
                    raw.roles.push(RawPrincipal {
                        arn,
                        username: QOVERY_SSO_USERNAME.to_owned(),
                        kubernetes_groups: vec!["system:masters".to_owned()],
                        ..Default::default()
                    });
                }
            }
        }
    }

    let karpenter = [
        ("KARPENTER_ROLE_ARN", get("KARPENTER_ROLE_ARN")),
        ("KARPENTER_ARN", get("KARPENTER_ARN")),
    ];
    match karpenter {
        [(_, Some(a)), (_, Some(b))] if a != b => problems.push(Problem::new(
            "KARPENTER_ARN",
            Some(b),
            "differs from KARPENTER_ROLE_ARN; set only one of the two",
        )),
        _ => {}
    }
    if let Some((var, Some(arn))) = karpenter.iter().find(|(_, v)| v.is_some()) {
        origins.push((format!("roles[{}]", raw.roles.len()), (*var).to_owned()));
        raw.roles.push(RawPrincipal {
            arn: (*arn).to_owned(),
            username: NODE_USERNAME.to_owned(),
            kubernetes_groups: NODE_GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            ..RawPrincipal::default()
        });
    }
    (raw, problems, origins)
}
