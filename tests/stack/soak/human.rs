//! The "human" writer: unmanaged aws-auth entries in several hand-written styles, edited at
//! random and written back carefully (read, replace their own part, write with the version read).

use std::time::Duration;

use serde_json::Value;

use super::rng::Rng;
use super::{ACCOUNT, HUMAN_GROUPS};

/// One mapping as EKS reads it (eks-sim's view): (arn, username, groups).
pub(super) type Read = (String, String, Vec<String>);

/// An unmanaged entry the human wrote: its exact text and what EKS must read from it.
#[derive(Clone)]
pub(super) struct HumanEntry {
    pub(super) text: String,
    pub(super) read: Read,
}

/// The human's entries in mapUsers (shared with the tool's managed entries, which the tool
/// writes after them) and mapRoles (the human's alone). Each write starts the section with a
/// versioned comment, so a write can tell whether its own earlier attempt landed. `broken`:
/// the human's mapRoles ends in an entry no YAML reader can take ([`BROKEN_ROLE`]), which
/// EKS drops whole and the tool must refuse to write over.
#[derive(Clone, Default)]
pub(super) struct Human {
    pub(super) version: u64,
    pub(super) next_id: u64,
    pub(super) users: Vec<HumanEntry>,
    pub(super) roles: Vec<HumanEntry>,
    pub(super) broken: bool,
}

/// An unquoted `{{SessionName}}`: a flow mapping used as a key, which aws-auth readers reject.
const BROKEN_ROLE: &str =
    "- rolearn: arn:aws:iam::123456789012:role/human-broken\n  username: {{SessionName}}\n";

impl Human {
    pub(super) fn block(&self, users: bool) -> String {
        let (key, entries) = if users {
            ("mapUsers", &self.users)
        } else {
            ("mapRoles", &self.roles)
        };
        if self.version == 0 {
            return String::new();
        }
        let mut out = format!("# human v{} ({key})\n", self.version);
        for e in entries {
            out.push_str(&e.text);
        }
        if self.broken && !users {
            out.push_str(BROKEN_ROLE);
        }
        out
    }

    /// The same entries, with mapRoles broken or whole again (a new version).
    pub(super) fn with_broken(&self, broken: bool) -> Self {
        Self {
            version: self.version + 1,
            broken,
            ..self.clone()
        }
    }

    pub(super) fn entry(&mut self, rng: &mut Rng, users: bool) -> HumanEntry {
        let id = self.next_id;
        self.next_id += 1;
        let (kind, key) = if users {
            ("user", "userarn")
        } else {
            ("role", "rolearn")
        };
        let arn = format!("arn:aws:iam::{ACCOUNT}:{kind}/human-{id}");
        let groups: Vec<String> = (0..rng.below(3))
            .map(|_| HUMAN_GROUPS[rng.below(HUMAN_GROUPS.len())].to_owned())
            .collect();
        let style = rng.below(4);
        let username = if !users && style == 1 {
            format!("human-{id}:{{{{SessionName}}}}")
        } else {
            format!("human-{id}")
        };
        let text = match style {
            0 => {
                let mut t = format!("- {key}: {arn}\n  username: {username}\n");
                if groups.is_empty() {
                    t.push_str("  groups: []\n");
                } else {
                    t.push_str("  groups:\n");
                    for g in &groups {
                        t.push_str(&format!("    - {g}\n"));
                    }
                }
                t
            }
            1 => {
                let quoted: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
                format!(
                    "# owner: team-{id}\n- {key}: \"{arn}\"\n  username: '{username}'\n  groups: [{}]\n",
                    quoted.join(", ")
                )
            }
            2 => {
                let mut t = format!(
                    "- {}: {arn}   # by hand\n  note: kept as is\n",
                    key.to_uppercase()
                );
                if !groups.is_empty() {
                    t.push_str("  groups:\n");
                    for g in &groups {
                        t.push_str(&format!("  - {g}\n"));
                    }
                }
                t.push_str(&format!("  username: {username}\n"));
                t
            }
            _ => format!(
                "\n- {key}: {arn}\n  username:   {username}\n  groups: [{}]   # trailing\n",
                groups.join(", ")
            ),
        };
        HumanEntry {
            text,
            read: (arn, username, groups),
        }
    }

    /// One edit: add, change or remove an entry in one of the two sections.
    pub(super) fn edit(&mut self, rng: &mut Rng) {
        self.version += 1;
        let users = rng.chance(0.75);
        let len = if users {
            self.users.len()
        } else {
            self.roles.len()
        };
        let op = if len == 0 || (len < 6 && rng.chance(0.5)) {
            0
        } else {
            1 + rng.below(2)
        };
        let entry = self.entry(rng, users);
        let entries = if users {
            &mut self.users
        } else {
            &mut self.roles
        };
        match op {
            0 => {
                let at = rng.below(entries.len() + 1);
                entries.insert(at, entry);
            }
            1 => {
                // The same principal, written anew (other style, groups, username).
                let at = rng.below(entries.len());
                let old_arn = entries[at].read.0.clone();
                let new_arn = entry.read.0.clone();
                let text = entry.text.replace(&new_arn, &old_arn);
                entries[at] = HumanEntry {
                    text,
                    read: (old_arn, entry.read.1, entry.read.2),
                };
            }
            _ => {
                let at = rng.below(entries.len());
                entries.remove(at);
            }
        }
    }
}

pub(super) type RawApi<'a> = &'a (dyn Fn(&str, Option<&str>) -> Option<(u16, String)> + Sync);

/// Writes `to` over `from` as a careful human would: read, replace only their own part, write
/// back with the resourceVersion read; retry on conflicts and failures. `Err`: the human's
/// earlier text was not found where they left it.
pub(super) fn human_write(api: RawApi<'_>, from: &Human, to: &Human) -> Result<u32, String> {
    let (old_users, new_users) = (from.block(true), to.block(true));
    let (old_roles, new_roles) = (from.block(false), to.block(false));
    for attempt in 1..=200 {
        if attempt > 1 {
            std::thread::sleep(Duration::from_millis(25));
        }
        let Some((200, body)) = api("GET", None) else {
            continue;
        };
        let mut object: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let text = |key: &str| object["data"][key].as_str().unwrap_or("").to_owned();
        let (users, roles) = (text("mapUsers"), text("mapRoles"));
        if users.starts_with(&new_users) && roles == new_roles {
            return Ok(attempt); // an earlier attempt landed (its answer was lost)
        }
        let Some(managed) = users.strip_prefix(&old_users) else {
            return Err(format!(
                "the human's mapUsers entries were changed by someone else:\nexpected prefix:\n{old_users}\nfound:\n{users}"
            ));
        };
        if roles != old_roles {
            return Err(format!(
                "the human's mapRoles was changed by someone else:\nexpected:\n{old_roles}\nfound:\n{roles}"
            ));
        }
        object["data"]["mapUsers"] = format!("{new_users}{managed}").into();
        object["data"]["mapRoles"] = new_roles.clone().into();
        if let Some((200, _)) = api("PUT", Some(&object.to_string())) {
            return Ok(attempt);
        }
    }
    Err("the human could not write aws-auth in 200 attempts".to_owned())
}
