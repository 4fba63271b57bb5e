//! Many accounts (issue 14): the optional top-level `iam: {assumeRoleArn}` of the
//! configuration, validated like the clusters' roles.

use eks_iam_sync::config::from_text;

#[test]
fn iam_assume_role_arn_names_the_synced_account_and_defaults_to_none() {
    let with = from_text(
        "clusters: [{name: prod, region: eu-west-3}]\niam: {assumeRoleArn: 'arn:aws:iam::222233334444:role/reader'}\n",
        "test",
        None,
    )
    .unwrap();
    let arn = with.iam_assume_role_arn.expect("set");
    assert_eq!(arn.account_id(), "222233334444");
    let without = from_text(
        "clusters: [{name: prod, region: eu-west-3}]\n",
        "test",
        None,
    )
    .unwrap();
    assert_eq!(without.iam_assume_role_arn, None);
}

#[test]
fn an_iam_assume_role_arn_that_is_not_a_role_or_an_unknown_key_is_refused() {
    let user = from_text(
        "clusters: [{name: prod, region: eu-west-3}]\niam: {assumeRoleArn: 'arn:aws:iam::222233334444:user/bob'}\n",
        "test",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(user.contains("iam.assumeRoleArn"), "{user}");
    let typo = from_text(
        "clusters: [{name: prod, region: eu-west-3}]\niam: {assumeRole: 'arn:aws:iam::222233334444:role/r'}\n",
        "test",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(typo.contains("assumeRole"), "{typo}");
}
