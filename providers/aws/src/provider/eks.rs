//! EKS kinds: the cluster, managed node groups, add-ons, Pod Identity associations and
//! access entries (with their access policy associations).
//!
//! EKS names are unique per cluster (or region), so adoption looks objects up by name and
//! requires this fleet's ownership tags; every create sends a `clientRequestToken` derived
//! from the create's generation. EKS runs one update at a time per cluster or node group, so
//! multi-part updates wait for `ACTIVE` between parts. It must never send a version the
//! blueprint did not pin (a null version means the EKS default).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eks::types::UpdateStatus;
use slipway_provider::{Created, ErrorClass, LiveObject, Properties, ProviderError, Value};

use super::props::{self, Props, managed_tags, owned_by, strings_value, tags_value};
use super::session::{Poll, Session, Waiter, found, poll};
use super::{API_EKS_READ, Clients};
use crate::kinds::API_EKS;

fn eks_tags(tags: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    managed_tags(
        tags.into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    )
}

fn owned(s: &Session<'_>, tags: Option<&HashMap<String, String>>) -> bool {
    owned_by(
        tags.into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
        &s.ctx.fleet,
        s.address,
    )
}

fn not_owned(s: &Session<'_>, operation: &str, what: &str) -> ProviderError {
    s.error(
        ErrorClass::Conflict,
        operation,
        "ResourceInUseException",
        format!(
            "{what} exists but is not tagged as this fleet's `{}`; refusing to adopt it",
            s.address
        ),
    )
}

fn hash_map(tags: BTreeMap<String, String>) -> HashMap<String, String> {
    tags.into_iter().collect()
}

/// Splits a `parent/child` cloud id (cluster and node group, add-on, association or
/// principal).
fn split<'i>(s: &Session<'_>, id: &'i str) -> Result<(&'i str, &'i str), ProviderError> {
    id.split_once('/').ok_or_else(|| {
        s.error(
            ErrorClass::Fatal,
            "lookup",
            "InvalidCloudId",
            format!("`{id}` is not `cluster/name`"),
        )
    })
}

/// Makes the tags of the EKS object `arn` exactly the desired ones.
async fn sync_tags(
    c: &Clients,
    s: &Session<'_>,
    arn: &str,
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let add: HashMap<String, String> = want
        .iter()
        .filter(|(k, v)| live.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !add.is_empty() {
        s.mutating(
            "TagResource",
            API_EKS,
            serde_json::json!({ "resource_arn": arn, "keys": add.keys().collect::<Vec<_>>() }),
        )
        .await?;
        c.eks
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(add))
            .send()
            .await
            .map_err(|e| s.fail("TagResource", e))?;
    }
    let remove: Vec<String> = live
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    if !remove.is_empty() {
        s.mutating(
            "UntagResource",
            API_EKS,
            serde_json::json!({ "resource_arn": arn, "keys": remove }),
        )
        .await?;
        c.eks
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| s.fail("UntagResource", e))?;
    }
    Ok(())
}

/// botocore defines no waiter for EKS updates; the node group's bounds serve, as node group
/// rolls are the longest updates.
const UPDATE: Waiter = Waiter::new("UpdateSuccessful", 30, 80);

/// Waits until the update `update_id` started by `operation` on the cluster (or on its node
/// group `nodegroup`) ends. A `Failed` or `Cancelled` update is a fatal error naming the update
/// and EKS's errors: the object went back to `ACTIVE` unchanged, and only a new operation
/// (a later apply) may try again.
async fn update_outcome(
    c: &Clients,
    s: &Session<'_>,
    operation: &str,
    cluster: &str,
    nodegroup: Option<&str>,
    update_id: &str,
) -> Result<(), ProviderError> {
    let what = match nodegroup {
        Some(n) => format!("node group `{cluster}/{n}`"),
        None => format!("cluster `{cluster}`"),
    };
    poll(s, API_EKS_READ, UPDATE, || async {
        let out = c
            .eks
            .describe_update()
            .name(cluster)
            .set_nodegroup_name(nodegroup.map(str::to_owned))
            .update_id(update_id)
            .send()
            .await
            .map_err(|e| s.fail("DescribeUpdate", e))?;
        let update = out
            .update()
            .ok_or_else(|| s.missing("DescribeUpdate", "update"))?;
        match update.status() {
            Some(UpdateStatus::Successful) => Ok(Poll::Done(())),
            Some(status @ (UpdateStatus::Failed | UpdateStatus::Cancelled)) => {
                let errors: Vec<String> = update
                    .errors()
                    .iter()
                    .map(|e| {
                        let ids = e.resource_ids();
                        format!(
                            "{}: {}{}",
                            e.error_code().map_or("", |c| c.as_str()),
                            e.error_message().unwrap_or_default(),
                            if ids.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", ids.join(", "))
                            }
                        )
                    })
                    .collect();
                let code = update
                    .errors()
                    .first()
                    .and_then(|e| e.error_code())
                    .map_or(status.as_str(), |c| c.as_str());
                Err(s.error(
                    ErrorClass::Fatal,
                    operation,
                    code,
                    format!(
                        "update `{update_id}` of {what} {}: {}",
                        status.as_str().to_lowercase(),
                        if errors.is_empty() {
                            "EKS reported no errors".to_owned()
                        } else {
                            errors.join("; ")
                        }
                    ),
                ))
            }
            other => Ok(Poll::Pending(format!(
                "update {update_id} {}",
                other.map_or("unknown", |s| s.as_str())
            ))),
        }
    })
    .await
}

fn props_of<const N: usize>(pairs: [(&str, Value); N]) -> Properties {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::from)
}

pub(crate) mod cluster {
    //! The cluster kind. Updates run one at a time (version, VPC config, logging, tags), each
    //! followed by a wait for `ACTIVE`, as EKS rejects concurrent updates of one cluster.

    use aws_sdk_eks::types::{
        AuthenticationMode, Cluster, ClusterStatus, CreateAccessConfigRequest, EncryptionConfig,
        LogSetup, LogType, Logging, Provider as KmsProvider, VpcConfigRequest,
    };
    use slipway_provider::ResourceState;

    use super::*;
    use crate::provider::session::{DEPENDENTS_GRACE, retry_conflicts};

    /// botocore's `ClusterActive`.
    const ACTIVE: Waiter = Waiter::new("ClusterActive", 30, 40);
    /// botocore's `ClusterDeleted`.
    const DELETED: Waiter = Waiter::new("ClusterDeleted", 30, 40);
    /// Every control-plane log type.
    const LOG_TYPES: &[&str] = &[
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ];

    pub(crate) async fn describe(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<Option<Cluster>, ProviderError> {
        let out = found(
            c.eks
                .describe_cluster()
                .name(name)
                .send()
                .await
                .map_err(|e| s.fail("DescribeCluster", e)),
        )?;
        Ok(out.and_then(|o| o.cluster().cloned()))
    }

    fn enabled_logs(cl: &Cluster) -> Vec<String> {
        cl.logging()
            .map(|l| l.cluster_logging())
            .unwrap_or_default()
            .iter()
            .filter(|l| l.enabled() == Some(true))
            .flat_map(|l| l.types().iter().map(|t| t.as_str().to_owned()))
            .collect()
    }

    fn outputs(cl: &Cluster) -> Properties {
        let vpc = cl.resources_vpc_config();
        props_of([
            ("arn", opt(cl.arn())),
            ("name", opt(cl.name())),
            ("endpoint", opt(cl.endpoint())),
            (
                "certificate_authority",
                opt(cl.certificate_authority().and_then(|c| c.data())),
            ),
            (
                "oidc_issuer",
                opt(cl
                    .identity()
                    .and_then(|i| i.oidc())
                    .and_then(|o| o.issuer())),
            ),
            (
                "cluster_security_group_id",
                opt(vpc.and_then(|v| v.cluster_security_group_id())),
            ),
            ("platform_version", opt(cl.platform_version())),
        ])
    }

    fn vpc_config(p: Props<'_>) -> Result<VpcConfigRequest, ProviderError> {
        Ok(VpcConfigRequest::builder()
            .set_subnet_ids(Some(p.strings("subnet_ids")?))
            .set_security_group_ids(Some(p.strings("security_group_ids")?))
            .set_endpoint_public_access(p.opt_bool("endpoint_public_access")?)
            .set_endpoint_private_access(p.opt_bool("endpoint_private_access")?)
            .build())
    }

    fn logging(want: &[String], live: &[String]) -> Logging {
        let disable: Vec<LogType> = live
            .iter()
            .filter(|l| !want.contains(l))
            .map(|l| LogType::from(l.as_str()))
            .collect();
        let mut logging = Logging::builder().cluster_logging(
            LogSetup::builder()
                .set_types(Some(
                    want.iter().map(|l| LogType::from(l.as_str())).collect(),
                ))
                .enabled(true)
                .build(),
        );
        if !disable.is_empty() {
            logging = logging.cluster_logging(
                LogSetup::builder()
                    .set_types(Some(disable))
                    .enabled(false)
                    .build(),
            );
        }
        logging.build()
    }

    fn encryption(p: Props<'_>) -> Result<Vec<EncryptionConfig>, ProviderError> {
        p.maps("encryption_config")?
            .into_iter()
            .map(|e| {
                let key = e.map("provider")?.map(|pr| pr.str("key_arn")).transpose()?;
                Ok(EncryptionConfig::builder()
                    .set_resources(Some(e.strings("resources")?))
                    .set_provider(key.map(|k| KmsProvider::builder().key_arn(k).build()))
                    .build())
            })
            .collect()
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        let name = p.str("name")?;
        s.read(API_EKS_READ).await;
        match describe(c, s, name).await? {
            Some(cl) if owned(s, cl.tags()) => {
                if cl.status() == Some(&ClusterStatus::Deleting) {
                    return Err(s.error(
                        ErrorClass::Transient,
                        "CreateCluster",
                        "ResourceInUseException",
                        format!("cluster `{name}` is still being deleted"),
                    ));
                }
                let ready = cl.status() == Some(&ClusterStatus::Active);
                return Ok(Created {
                    cloud_id: name.to_owned(),
                    outputs: outputs(&cl),
                    ready,
                });
            }
            Some(_) => {
                return Err(not_owned(
                    s,
                    "CreateCluster",
                    &format!("EKS cluster `{name}`"),
                ));
            }
            None => {}
        }
        let token = props::client_token(generation);
        let access = match p.map("access_config")? {
            Some(a) => Some(
                CreateAccessConfigRequest::builder()
                    .set_authentication_mode(
                        a.opt_str("authentication_mode")?
                            .map(AuthenticationMode::from),
                    )
                    .set_bootstrap_cluster_creator_admin_permissions(
                        a.opt_bool("bootstrap_cluster_creator_admin_permissions")?,
                    )
                    .build(),
            ),
            None => None,
        };
        let encryption = encryption(p)?;
        let logs = p.strings("enabled_cluster_log_types")?;
        s.mutating(
            "CreateCluster",
            API_EKS,
            serde_json::json!({ "name": name, "version": p.opt_str("version")?, "client_request_token": token }),
        )
        .await?;
        let out = c
            .eks
            .create_cluster()
            .name(name)
            .set_version(p.opt_str("version")?.map(str::to_owned))
            .role_arn(p.str("role_arn")?)
            .resources_vpc_config(vpc_config(p)?)
            .set_access_config(access)
            .set_encryption_config((!encryption.is_empty()).then_some(encryption))
            .logging(logging(&logs, &[]))
            .set_tags(Some(hash_map(p.tags()?)))
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| s.fail("CreateCluster", e))?;
        let cl = out
            .cluster()
            .ok_or_else(|| s.missing("CreateCluster", "cluster"))?;
        Ok(Created {
            cloud_id: name.to_owned(),
            outputs: outputs(cl),
            ready: cl.status() == Some(&ClusterStatus::Active),
        })
    }

    /// Waits until the cluster is `ACTIVE`, per botocore's `ClusterActive`.
    async fn active(c: &Clients, s: &Session<'_>, name: &str) -> Result<Cluster, ProviderError> {
        poll(s, API_EKS_READ, ACTIVE, || async {
            let Some(cl) = describe(c, s, name).await? else {
                return Err(s.error(
                    ErrorClass::NotFound,
                    "ClusterActive",
                    "ResourceNotFoundException",
                    format!("cluster `{name}` does not exist"),
                ));
            };
            match cl.status() {
                Some(ClusterStatus::Active) => Ok(Poll::Done(cl)),
                Some(status @ (ClusterStatus::Failed | ClusterStatus::Deleting)) => Err(s.error(
                    ErrorClass::Fatal,
                    "ClusterActive",
                    "ClusterFailed",
                    format!("cluster `{name}` is {}", status.as_str()),
                )),
                other => Ok(Poll::Pending(
                    other.map_or("unknown", |s| s.as_str()).to_owned(),
                )),
            }
        })
        .await
    }

    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<Properties, ProviderError> {
        Ok(outputs(&active(c, s, name).await?))
    }

    /// botocore's `ClusterDeleted`: gone on ResourceNotFound; fails when the cluster is
    /// `ACTIVE`, `CREATING` or `PENDING` again (the delete did not take).
    pub(crate) async fn wait_deleted(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<Properties, ProviderError> {
        poll(s, API_EKS_READ, DELETED, || async {
            match describe(c, s, name).await? {
                None => Ok(Poll::Done(())),
                Some(cl) => match cl.status() {
                    Some(
                        status @ (ClusterStatus::Active
                        | ClusterStatus::Creating
                        | ClusterStatus::Pending),
                    ) => Err(s.error(
                        ErrorClass::Fatal,
                        "ClusterDeleted",
                        "ClusterNotDeleting",
                        format!(
                            "cluster `{name}` is {} instead of going away",
                            status.as_str()
                        ),
                    )),
                    other => Ok(Poll::Pending(
                        other.map_or("unknown", |s| s.as_str()).to_owned(),
                    )),
                },
            }
        })
        .await?;
        Ok(Properties::new())
    }

    /// Applies the differences from the live cluster one EKS update at a time.
    pub(crate) async fn update(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        name: &str,
    ) -> Result<Created, ProviderError> {
        let mut cl = active(c, s, name).await?;
        if let Some(version) = p.opt_str("version")?
            && cl.version() != Some(version)
        {
            s.mutating(
                "UpdateClusterVersion",
                API_EKS,
                serde_json::json!({ "name": name, "version": version }),
            )
            .await?;
            let out = c
                .eks
                .update_cluster_version()
                .name(name)
                .version(version)
                .send()
                .await
                .map_err(|e| s.fail("UpdateClusterVersion", e))?;
            if let Some(id) = out.update().and_then(|u| u.id()) {
                update_outcome(c, s, "UpdateClusterVersion", name, None, id).await?;
            }
            cl = active(c, s, name).await?;
        }
        let vpc = cl.resources_vpc_config();
        let same_set = |live: &[String], want: Vec<String>| {
            let mut live = live.to_vec();
            let mut want = want;
            live.sort();
            want.sort();
            live == want
        };
        let vpc_same = vpc.is_some_and(|v| {
            same_set(v.subnet_ids(), p.strings("subnet_ids").unwrap_or_default())
                && same_set(
                    v.security_group_ids(),
                    p.strings("security_group_ids").unwrap_or_default(),
                )
                && p.opt_bool("endpoint_public_access")
                    .ok()
                    .flatten()
                    .is_none_or(|b| b == v.endpoint_public_access())
                && p.opt_bool("endpoint_private_access")
                    .ok()
                    .flatten()
                    .is_none_or(|b| b == v.endpoint_private_access())
        });
        if !vpc_same {
            s.mutating(
                "UpdateClusterConfig",
                API_EKS,
                serde_json::json!({ "name": name, "resources_vpc_config": {
                    "subnet_ids": p.strings("subnet_ids")?,
                    "security_group_ids": p.strings("security_group_ids")?,
                    "endpoint_public_access": p.opt_bool("endpoint_public_access")?,
                    "endpoint_private_access": p.opt_bool("endpoint_private_access")?,
                }}),
            )
            .await?;
            c.eks
                .update_cluster_config()
                .name(name)
                .resources_vpc_config(vpc_config(p)?)
                .send()
                .await
                .map_err(|e| s.fail("UpdateClusterConfig", e))?;
            cl = active(c, s, name).await?;
        }
        let want_logs = p.strings("enabled_cluster_log_types")?;
        let live_logs = enabled_logs(&cl);
        if !same_set(&live_logs, want_logs.clone()) {
            s.mutating(
                "UpdateClusterConfig",
                API_EKS,
                serde_json::json!({ "name": name, "enabled_cluster_log_types": want_logs }),
            )
            .await?;
            let disable: Vec<String> = LOG_TYPES
                .iter()
                .map(|l| (*l).to_owned())
                .filter(|l| !want_logs.contains(l))
                .collect();
            c.eks
                .update_cluster_config()
                .name(name)
                .logging(logging(&want_logs, &disable))
                .send()
                .await
                .map_err(|e| s.fail("UpdateClusterConfig", e))?;
            cl = active(c, s, name).await?;
        }
        if let Some(arn) = cl.arn() {
            sync_tags(c, s, arn, &eks_tags(cl.tags()), &p.tags()?).await?;
        }
        Ok(Created {
            cloud_id: name.to_owned(),
            outputs: outputs(&cl),
            ready: true,
        })
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
        prior: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        s.read(API_EKS_READ).await;
        let Some(cl) = describe(c, s, name).await? else {
            return Ok(None);
        };
        let recorded = Props::new(&prior.resolved, s.address);
        let vpc = cl.resources_vpc_config();
        let access = cl.access_config();
        // DescribeCluster does not return the create-only bootstrap flag: keep the recorded
        // one, and the recorded mode when the answer has none (older APIs and moto).
        let recorded_access = recorded.map("access_config")?;
        let recorded_access = |key: &str| {
            recorded_access
                .and_then(|a| a.get(key).cloned())
                .unwrap_or(Value::Null)
        };
        let bootstrap = recorded_access("bootstrap_cluster_creator_admin_permissions");
        let mode = match access.and_then(|a| a.authentication_mode()) {
            Some(m) => Value::from(m.as_str()),
            None => recorded_access("authentication_mode"),
        };
        let encryption = cl
            .encryption_config()
            .iter()
            .map(|e| {
                Value::Map(props_of([
                    (
                        "provider",
                        Value::Map(props_of([(
                            "key_arn",
                            opt(e.provider().and_then(|p| p.key_arn())),
                        )])),
                    ),
                    ("resources", strings_value(e.resources())),
                ]))
            })
            .collect();
        let mut log_types = enabled_logs(&cl);
        let recorded_logs = recorded.strings("enabled_cluster_log_types")?;
        log_types.sort_by_key(|l| {
            recorded_logs
                .iter()
                .position(|r| r == l)
                .unwrap_or(usize::MAX)
        });
        Ok(Some(LiveObject {
            cloud_id: name.to_owned(),
            properties: props_of([
                ("name", opt(cl.name())),
                ("version", opt(cl.version())),
                ("role_arn", opt(cl.role_arn())),
                (
                    "subnet_ids",
                    strings_value(vpc.map(|v| v.subnet_ids()).unwrap_or_default()),
                ),
                (
                    "security_group_ids",
                    strings_value(vpc.map(|v| v.security_group_ids()).unwrap_or_default()),
                ),
                (
                    "endpoint_public_access",
                    Value::from(vpc.is_some_and(|v| v.endpoint_public_access())),
                ),
                (
                    "endpoint_private_access",
                    Value::from(vpc.is_some_and(|v| v.endpoint_private_access())),
                ),
                (
                    "access_config",
                    Value::Map(props_of([
                        ("authentication_mode", mode),
                        ("bootstrap_cluster_creator_admin_permissions", bootstrap),
                    ])),
                ),
                ("encryption_config", Value::List(encryption)),
                ("enabled_cluster_log_types", strings_value(log_types)),
                ("tags", tags_value(&eks_tags(cl.tags()))),
            ]),
            outputs: outputs(&cl),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<(), ProviderError> {
        // Node groups, add-ons and associations of the same walk may still be deleting.
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DeleteCluster",
                API_EKS,
                serde_json::json!({ "name": name }),
            )
            .await?;
            match c
                .eks
                .delete_cluster()
                .name(name)
                .send()
                .await
                .map_err(|e| s.fail("DeleteCluster", e))
            {
                Ok(_) => Ok(()),
                Err(e) if e.class == ErrorClass::NotFound => Ok(()),
                // Deleting a cluster already being deleted has converged.
                Err(e) if e.class == ErrorClass::Conflict && e.message.contains("DELETING") => {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })
        .await
    }
}

pub(crate) mod nodegroup {
    //! The node group kind. A create-before-destroy replacement gets a new physical name, the
    //! pool name plus a hash of the replaced node group's name and the create's generation, so
    //! both exist side by side and a retried replacement finds the same name again.

    use aws_sdk_eks::types::{
        AmiTypes, CapacityTypes, Nodegroup, NodegroupScalingConfig, NodegroupStatus,
        NodegroupUpdateConfig, Taint, TaintEffect, UpdateLabelsPayload, UpdateTaintsPayload,
    };
    use slipway_provider::ResourceState;

    use super::*;
    use crate::names;

    /// botocore's `NodegroupActive`.
    const ACTIVE: Waiter = Waiter::new("NodegroupActive", 30, 80);
    /// botocore's `NodegroupDeleted`.
    const DELETED: Waiter = Waiter::new("NodegroupDeleted", 30, 40);
    /// EKS node group names are at most 63 characters.
    const NAME_MAX: usize = 63;

    /// The physical name of a node group: the pool name, or for a replacement the pool
    /// name with a suffix derived from the name it replaces.
    pub(crate) fn physical_name(base: &str, replacing: Option<&str>, generation: &str) -> String {
        let Some(old) = replacing else {
            return base.to_owned();
        };
        let suffix = names::short_hash(&format!("{old}/{generation}"));
        let base = names::fit(base, NAME_MAX - suffix.len() - 1);
        format!("{base}-{suffix}")
    }

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        cluster: &str,
        name: &str,
    ) -> Result<Option<Nodegroup>, ProviderError> {
        let out = found(
            c.eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await
                .map_err(|e| s.fail("DescribeNodegroup", e)),
        )?;
        Ok(out.and_then(|o| o.nodegroup().cloned()))
    }

    fn outputs(ng: &Nodegroup) -> Properties {
        props_of([("arn", opt(ng.nodegroup_arn()))])
    }

    fn taints(p: Props<'_>) -> Result<Vec<Taint>, ProviderError> {
        p.maps("taints")?
            .into_iter()
            .map(|t| {
                Ok(Taint::builder()
                    .key(t.str("key")?)
                    .set_value(t.opt_str("value")?.map(str::to_owned))
                    .effect(TaintEffect::from(t.str("effect")?))
                    .build())
            })
            .collect()
    }

    fn taint_key(t: &Taint) -> (String, String, String) {
        (
            t.key().unwrap_or_default().to_owned(),
            t.value().unwrap_or_default().to_owned(),
            t.effect().map_or("", |e| e.as_str()).to_owned(),
        )
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&ResourceState>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        let cluster = p.str("cluster_name")?;
        let old = replacing
            .and_then(|r| r.cloud_id.as_deref())
            .and_then(|id| id.split_once('/'))
            .map(|(_, n)| n);
        let name = physical_name(p.str("nodegroup_name")?, old, generation);
        let cloud_id = format!("{cluster}/{name}");
        s.read(API_EKS_READ).await;
        match describe(c, s, cluster, &name).await? {
            Some(ng) if owned(s, ng.tags()) => {
                return Ok(Created {
                    cloud_id,
                    outputs: outputs(&ng),
                    ready: ng.status() == Some(&NodegroupStatus::Active),
                });
            }
            Some(_) => {
                return Err(not_owned(
                    s,
                    "CreateNodegroup",
                    &format!("node group `{cluster}/{name}`"),
                ));
            }
            None => {}
        }
        let scaling = p.map("scaling_config")?;
        let update = p.map("update_config")?;
        let token = props::client_token(generation);
        s.mutating(
            "CreateNodegroup",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "nodegroup_name": name, "client_request_token": token }),
        )
        .await?;
        let out = c
            .eks
            .create_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(&name)
            .node_role(p.str("node_role_arn")?)
            .set_subnets(Some(p.strings("subnet_ids")?))
            .set_scaling_config(match scaling {
                Some(sc) => Some(
                    NodegroupScalingConfig::builder()
                        .set_min_size(sc.opt_i32("min_size")?)
                        .set_max_size(sc.opt_i32("max_size")?)
                        .set_desired_size(sc.opt_i32("desired_size")?)
                        .build(),
                ),
                None => None,
            })
            .set_instance_types(Some(p.strings("instance_types")?))
            .set_disk_size(p.opt_i32("disk_size")?)
            .set_ami_type(p.opt_str("ami_type")?.map(AmiTypes::from))
            .set_capacity_type(p.opt_str("capacity_type")?.map(CapacityTypes::from))
            .set_version(p.opt_str("version")?.map(str::to_owned))
            .set_labels(Some(hash_map(p.string_map("labels")?)))
            .set_taints(Some(taints(p)?))
            .set_update_config(match update {
                Some(u) => Some(
                    NodegroupUpdateConfig::builder()
                        .set_max_unavailable(u.opt_i32("max_unavailable")?)
                        .build(),
                ),
                None => None,
            })
            .set_tags(Some(hash_map(p.tags()?)))
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| s.fail("CreateNodegroup", e))?;
        let ng = out
            .nodegroup()
            .ok_or_else(|| s.missing("CreateNodegroup", "nodegroup"))?;
        Ok(Created {
            cloud_id,
            outputs: outputs(ng),
            ready: ng.status() == Some(&NodegroupStatus::Active),
        })
    }

    async fn active(
        c: &Clients,
        s: &Session<'_>,
        cluster: &str,
        name: &str,
    ) -> Result<Nodegroup, ProviderError> {
        poll(s, API_EKS_READ, ACTIVE, || async {
            let Some(ng) = describe(c, s, cluster, name).await? else {
                return Err(s.error(
                    ErrorClass::NotFound,
                    "NodegroupActive",
                    "ResourceNotFoundException",
                    format!("node group `{cluster}/{name}` does not exist"),
                ));
            };
            match ng.status() {
                Some(NodegroupStatus::Active) => Ok(Poll::Done(ng)),
                Some(NodegroupStatus::CreateFailed) => {
                    let issues: Vec<String> = ng
                        .health()
                        .map(|h| h.issues())
                        .unwrap_or_default()
                        .iter()
                        .map(|i| {
                            format!(
                                "{}: {}",
                                i.code().map_or("", |c| c.as_str()),
                                i.message().unwrap_or_default()
                            )
                        })
                        .collect();
                    Err(s.error(
                        ErrorClass::Fatal,
                        "NodegroupActive",
                        "CreateFailed",
                        format!(
                            "node group `{cluster}/{name}` failed: {}",
                            issues.join("; ")
                        ),
                    ))
                }
                other => Ok(Poll::Pending(
                    other.map_or("unknown", |s| s.as_str()).to_owned(),
                )),
            }
        })
        .await
    }

    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        let (cluster, name) = split(s, id)?;
        Ok(outputs(&active(c, s, cluster, name).await?))
    }

    pub(crate) async fn wait_deleted(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        let (cluster, name) = split(s, id)?;
        poll(s, API_EKS_READ, DELETED, || async {
            match describe(c, s, cluster, name).await? {
                None => Ok(Poll::Done(())),
                Some(ng) if ng.status() == Some(&NodegroupStatus::DeleteFailed) => Err(s.error(
                    ErrorClass::Fatal,
                    "NodegroupDeleted",
                    "DeleteFailed",
                    format!("node group `{cluster}/{name}` failed to delete"),
                )),
                Some(ng) => Ok(Poll::Pending(
                    ng.status().map_or("unknown", |s| s.as_str()).to_owned(),
                )),
            }
        })
        .await?;
        Ok(Properties::new())
    }

    /// Applies version, configuration (labels, taints, scaling bounds, update config) and
    /// tags; `desired_size` is left to the autoscaler, only kept within the new bounds.
    pub(crate) async fn update(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
    ) -> Result<Created, ProviderError> {
        let (cluster, name) = split(s, id)?;
        let mut ng = active(c, s, cluster, name).await?;
        if let Some(version) = p.opt_str("version")?
            && ng.version() != Some(version)
        {
            s.mutating(
                "UpdateNodegroupVersion",
                API_EKS,
                serde_json::json!({ "cluster_name": cluster, "nodegroup_name": name, "version": version }),
            )
            .await?;
            let out = c
                .eks
                .update_nodegroup_version()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .version(version)
                .send()
                .await
                .map_err(|e| s.fail("UpdateNodegroupVersion", e))?;
            // The node group returns to ACTIVE whether the roll succeeded or not: only the
            // update says which.
            if let Some(id) = out.update().and_then(|u| u.id()) {
                update_outcome(c, s, "UpdateNodegroupVersion", cluster, Some(name), id).await?;
            }
            ng = active(c, s, cluster, name).await?;
        }
        let mut req = c
            .eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(name);
        let mut detail = serde_json::Map::new();
        let live_labels = ng.labels().cloned().unwrap_or_default();
        let want_labels = p.string_map("labels")?;
        let add: HashMap<String, String> = want_labels
            .iter()
            .filter(|(k, v)| live_labels.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<String> = live_labels
            .keys()
            .filter(|k| !want_labels.contains_key(*k))
            .cloned()
            .collect();
        if !add.is_empty() || !remove.is_empty() {
            detail.insert(
                "labels".to_owned(),
                serde_json::json!({ "add": add, "remove": remove }),
            );
            req = req.labels(
                UpdateLabelsPayload::builder()
                    .set_add_or_update_labels((!add.is_empty()).then_some(add))
                    .set_remove_labels((!remove.is_empty()).then_some(remove))
                    .build(),
            );
        }
        let want_taints = taints(p)?;
        let live_keys: Vec<_> = ng.taints().iter().map(taint_key).collect();
        let want_keys: Vec<_> = want_taints.iter().map(taint_key).collect();
        let add: Vec<Taint> = want_taints
            .iter()
            .filter(|t| !live_keys.contains(&taint_key(t)))
            .cloned()
            .collect();
        let remove: Vec<Taint> = ng
            .taints()
            .iter()
            .filter(|t| !want_keys.iter().any(|w| w.0 == taint_key(t).0))
            .cloned()
            .collect();
        if !add.is_empty() || !remove.is_empty() {
            detail.insert(
                "taints".to_owned(),
                serde_json::json!({ "add": add.len(), "remove": remove.len() }),
            );
            req = req.taints(
                UpdateTaintsPayload::builder()
                    .set_add_or_update_taints((!add.is_empty()).then_some(add))
                    .set_remove_taints((!remove.is_empty()).then_some(remove))
                    .build(),
            );
        }
        if let Some(sc) = p.map("scaling_config")? {
            let live = ng.scaling_config();
            let (min, max) = (sc.opt_i32("min_size")?, sc.opt_i32("max_size")?);
            if min != live.and_then(|l| l.min_size()) || max != live.and_then(|l| l.max_size()) {
                let desired = live
                    .and_then(|l| l.desired_size())
                    .or(sc.opt_i32("desired_size")?)
                    .map(|d| d.max(min.unwrap_or(d)).min(max.unwrap_or(d)));
                detail.insert("scaling_config".to_owned(), serde_json::json!({ "min_size": min, "max_size": max, "desired_size": desired }));
                req = req.scaling_config(
                    NodegroupScalingConfig::builder()
                        .set_min_size(min)
                        .set_max_size(max)
                        .set_desired_size(desired)
                        .build(),
                );
            }
        }
        if let Some(u) = p.map("update_config")? {
            let want = u.opt_i32("max_unavailable")?;
            if want.is_some() && want != ng.update_config().and_then(|l| l.max_unavailable()) {
                detail.insert(
                    "update_config".to_owned(),
                    serde_json::json!({ "max_unavailable": want }),
                );
                req = req.update_config(
                    NodegroupUpdateConfig::builder()
                        .set_max_unavailable(want)
                        .build(),
                );
            }
        }
        if !detail.is_empty() {
            detail.insert("cluster_name".to_owned(), cluster.into());
            detail.insert("nodegroup_name".to_owned(), name.into());
            s.mutating(
                "UpdateNodegroupConfig",
                API_EKS,
                serde_json::Value::Object(detail),
            )
            .await?;
            req.send()
                .await
                .map_err(|e| s.fail("UpdateNodegroupConfig", e))?;
        }
        if let Some(arn) = ng.nodegroup_arn() {
            sync_tags(c, s, arn, &eks_tags(ng.tags()), &p.tags()?).await?;
        }
        Ok(Created {
            cloud_id: id.to_owned(),
            outputs: outputs(&ng),
            ready: false,
        })
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        prior: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let (cluster, name) = split(s, id)?;
        s.read(API_EKS_READ).await;
        let Some(ng) = describe(c, s, cluster, name).await? else {
            return Ok(None);
        };
        let recorded = Props::new(&prior.resolved, s.address);
        // The pool name, not the replacement's suffixed physical name.
        let base = recorded
            .opt_str("nodegroup_name")?
            .filter(|b| name == *b || name.starts_with(&format!("{b}-")))
            .unwrap_or(name);
        // The recorded update config when the answer has none (moto omits it).
        let update_config = match ng.update_config() {
            Some(u) => Value::Map(props_of([(
                "max_unavailable",
                u.max_unavailable()
                    .map_or(Value::Null, |i| Value::from(i64::from(i))),
            )])),
            None => recorded
                .get("update_config")
                .cloned()
                .unwrap_or(Value::Null),
        };
        let sc = ng.scaling_config();
        let int = |v: Option<i32>| v.map_or(Value::Null, |i| Value::from(i64::from(i)));
        let labels: BTreeMap<String, String> = ng
            .labels()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let taints = ng
            .taints()
            .iter()
            .map(|t| {
                let mut m = props_of([
                    ("key", opt(t.key())),
                    ("effect", opt(t.effect().map(|e| e.as_str()))),
                ]);
                if let Some(v) = t.value().filter(|v| !v.is_empty()) {
                    m.insert("value".to_owned(), Value::from(v));
                }
                Value::Map(m)
            })
            .collect();
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties: props_of([
                ("cluster_name", opt(ng.cluster_name())),
                ("nodegroup_name", Value::from(base)),
                ("node_role_arn", opt(ng.node_role())),
                ("subnet_ids", strings_value(ng.subnets())),
                (
                    "scaling_config",
                    Value::Map(props_of([
                        ("min_size", int(sc.and_then(|s| s.min_size()))),
                        ("max_size", int(sc.and_then(|s| s.max_size()))),
                        ("desired_size", int(sc.and_then(|s| s.desired_size()))),
                    ])),
                ),
                ("instance_types", strings_value(ng.instance_types())),
                ("disk_size", int(ng.disk_size())),
                ("ami_type", opt(ng.ami_type().map(|a| a.as_str()))),
                ("capacity_type", opt(ng.capacity_type().map(|a| a.as_str()))),
                ("version", opt(ng.version())),
                ("labels", tags_value(&labels)),
                ("taints", Value::List(taints)),
                ("update_config", update_config),
                ("tags", tags_value(&eks_tags(ng.tags()))),
            ]),
            outputs: outputs(&ng),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = split(s, id)?;
        s.mutating(
            "DeleteNodegroup",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "nodegroup_name": name }),
        )
        .await?;
        match c
            .eks
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| s.fail("DeleteNodegroup", e))
        {
            Ok(_) => Ok(()),
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            Err(e) if e.class == ErrorClass::Conflict && e.message.contains("DELETING") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

pub(crate) mod addon {
    //! The add-on kind. A null `addon_version` means the EKS default for the cluster's minor:
    //! create sends none, and reads keep it null. `kubernetes_version` is the minor the add-on
    //! was last converged for; when it changes (an upgrade hop), an unpinned add-on is moved
    //! to the default EKS offers for the new minor (DescribeAddonVersions), and a pinned one
    //! to its pinned version. No API reports that minor, so reads mirror the recorded value.

    use aws_sdk_eks::types::{Addon, AddonPodIdentityAssociations, AddonStatus, ResolveConflicts};
    use slipway_provider::ResourceState;

    use super::*;

    /// botocore's `AddonActive`.
    const ACTIVE: Waiter = Waiter::new("AddonActive", 10, 60);
    /// botocore's `AddonDeleted`.
    const DELETED: Waiter = Waiter::new("AddonDeleted", 10, 60);

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        cluster: &str,
        name: &str,
    ) -> Result<Option<Addon>, ProviderError> {
        let out = found(
            c.eks
                .describe_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
                .await
                .map_err(|e| s.fail("DescribeAddon", e)),
        )?;
        Ok(out.and_then(|o| o.addon().cloned()))
    }

    fn outputs(a: &Addon) -> Properties {
        props_of([
            ("arn", opt(a.addon_arn())),
            ("addon_version", opt(a.addon_version())),
        ])
    }

    fn associations(
        s: &Session<'_>,
        p: Props<'_>,
    ) -> Result<Option<Vec<AddonPodIdentityAssociations>>, ProviderError> {
        if p.get("pod_identity_associations").is_none() {
            return Ok(None);
        }
        p.maps("pod_identity_associations")?
            .into_iter()
            .map(|a| {
                AddonPodIdentityAssociations::builder()
                    .service_account(a.str("service_account")?)
                    .role_arn(a.str("role_arn")?)
                    .build()
                    .map_err(|e| {
                        s.error(
                            ErrorClass::Fatal,
                            "CreateAddon",
                            "InvalidProperty",
                            e.to_string(),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        let (cluster, name) = (p.str("cluster_name")?, p.str("addon_name")?);
        let cloud_id = format!("{cluster}/{name}");
        s.read(API_EKS_READ).await;
        match describe(c, s, cluster, name).await? {
            Some(a) if owned(s, a.tags()) => {
                return Ok(Created {
                    cloud_id,
                    outputs: outputs(&a),
                    ready: a.status() == Some(&AddonStatus::Active),
                });
            }
            Some(_) => return Err(not_owned(s, "CreateAddon", &format!("add-on `{cloud_id}`"))),
            None => {}
        }
        let token = props::client_token(generation);
        s.mutating(
            "CreateAddon",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "addon_name": name, "addon_version": p.opt_str("addon_version")?, "client_request_token": token }),
        )
        .await?;
        let out = c
            .eks
            .create_addon()
            .cluster_name(cluster)
            .addon_name(name)
            .set_addon_version(p.opt_str("addon_version")?.map(str::to_owned))
            .set_service_account_role_arn(p.opt_str("service_account_role_arn")?.map(str::to_owned))
            .set_resolve_conflicts(p.opt_str("resolve_conflicts")?.map(ResolveConflicts::from))
            .set_pod_identity_associations(associations(s, p)?)
            .set_tags(Some(hash_map(p.tags()?)))
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| s.fail("CreateAddon", e))?;
        let a = out
            .addon()
            .ok_or_else(|| s.missing("CreateAddon", "addon"))?;
        Ok(Created {
            cloud_id,
            outputs: outputs(a),
            ready: a.status() == Some(&AddonStatus::Active),
        })
    }

    /// botocore's `AddonActive`: fails on `CREATE_FAILED` and `DEGRADED`.
    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        let (cluster, name) = split(s, id)?;
        poll(s, API_EKS_READ, ACTIVE, || async {
            let Some(a) = describe(c, s, cluster, name).await? else {
                return Err(s.error(
                    ErrorClass::NotFound,
                    "AddonActive",
                    "ResourceNotFoundException",
                    format!("add-on `{id}` does not exist"),
                ));
            };
            match a.status() {
                Some(AddonStatus::Active) => Ok(Poll::Done(outputs(&a))),
                Some(status @ (AddonStatus::CreateFailed | AddonStatus::Degraded)) => {
                    let issues: Vec<String> = a
                        .health()
                        .map(|h| h.issues())
                        .unwrap_or_default()
                        .iter()
                        .map(|i| {
                            format!(
                                "{}: {}",
                                i.code().map_or("", |c| c.as_str()),
                                i.message().unwrap_or_default()
                            )
                        })
                        .collect();
                    Err(s.error(
                        ErrorClass::Fatal,
                        "AddonActive",
                        status.as_str(),
                        format!(
                            "add-on `{id}` is {}: {}",
                            status.as_str(),
                            issues.join("; ")
                        ),
                    ))
                }
                other => Ok(Poll::Pending(
                    other.map_or("unknown", |s| s.as_str()).to_owned(),
                )),
            }
        })
        .await
    }

    pub(crate) async fn wait_deleted(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<Properties, ProviderError> {
        let (cluster, name) = split(s, id)?;
        poll(s, API_EKS_READ, DELETED, || async {
            match describe(c, s, cluster, name).await? {
                None => Ok(Poll::Done(())),
                Some(a) if a.status() == Some(&AddonStatus::DeleteFailed) => Err(s.error(
                    ErrorClass::Fatal,
                    "AddonDeleted",
                    "DeleteFailed",
                    format!("add-on `{id}` failed to delete"),
                )),
                Some(a) => Ok(Poll::Pending(
                    a.status().map_or("unknown", |s| s.as_str()).to_owned(),
                )),
            }
        })
        .await?;
        Ok(Properties::new())
    }

    /// The version to converge on: the pinned one, or when the cluster's minor changed since
    /// the last convergence, the EKS default for the new minor; `None` leaves it alone.
    async fn wanted_version(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        prior: &ResourceState,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        if let Some(pinned) = p.opt_str("addon_version")? {
            return Ok(Some(pinned.to_owned()));
        }
        let Some(minor) = p.opt_str("kubernetes_version")? else {
            return Ok(None);
        };
        let recorded = Props::new(&prior.resolved, s.address).opt_str("kubernetes_version")?;
        if recorded == Some(minor) {
            return Ok(None);
        }
        let (_, default) = super::super::evidence::offered(c, s, name, minor).await?;
        default.map(Some).ok_or_else(|| {
            s.error(
                ErrorClass::Fatal,
                "DescribeAddonVersions",
                "NoDefaultVersion",
                format!("EKS offers no default version of `{name}` for Kubernetes {minor}"),
            )
        })
    }

    pub(crate) async fn update(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        id: &str,
        prior: &ResourceState,
    ) -> Result<Created, ProviderError> {
        let (cluster, name) = split(s, id)?;
        s.read(API_EKS_READ).await;
        let a = describe(c, s, cluster, name).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeAddon",
                "ResourceNotFoundException",
                id,
            )
        })?;
        let wanted = wanted_version(c, s, p, prior, name).await?;
        let version = wanted.as_deref();
        let role = p.opt_str("service_account_role_arn")?;
        let associations = associations(s, p)?;
        let version_differs = version.is_some_and(|v| a.addon_version() != Some(v));
        let role_differs = role != a.service_account_role_arn();
        let associations_differ = associations
            .as_ref()
            .is_some_and(|want| want.len() != a.pod_identity_associations().len());
        let mut ready = a.status() == Some(&AddonStatus::Active);
        if version_differs || role_differs || associations_differ {
            s.mutating(
                "UpdateAddon",
                API_EKS,
                serde_json::json!({ "cluster_name": cluster, "addon_name": name, "addon_version": version, "kubernetes_version": p.opt_str("kubernetes_version")?, "service_account_role_arn": role }),
            )
            .await?;
            c.eks
                .update_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .set_addon_version(version.map(str::to_owned))
                // An empty string removes the role, as UpdateAddon documents.
                .service_account_role_arn(role.unwrap_or_default())
                .set_resolve_conflicts(p.opt_str("resolve_conflicts")?.map(ResolveConflicts::from))
                .set_pod_identity_associations(associations)
                .send()
                .await
                .map_err(|e| s.fail("UpdateAddon", e))?;
            ready = false;
        }
        if let Some(arn) = a.addon_arn() {
            sync_tags(c, s, arn, &eks_tags(a.tags()), &p.tags()?).await?;
        }
        Ok(Created {
            cloud_id: id.to_owned(),
            outputs: outputs(&a),
            ready,
        })
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
        prior: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let (cluster, name) = split(s, id)?;
        s.read(API_EKS_READ).await;
        let Some(a) = describe(c, s, cluster, name).await? else {
            return Ok(None);
        };
        let recorded = Props::new(&prior.resolved, s.address);
        let version = match recorded.opt_str("addon_version")? {
            None => Value::Null,
            Some(_) => opt(a.addon_version()),
        };
        let mut properties = props_of([
            ("cluster_name", opt(a.cluster_name())),
            ("addon_name", opt(a.addon_name())),
            ("addon_version", version),
            // Not returned by DescribeAddon: how conflicts are resolved is per call.
            (
                "resolve_conflicts",
                recorded
                    .get("resolve_conflicts")
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            ("tags", tags_value(&eks_tags(a.tags()))),
        ]);
        // The minor the add-on was converged for is Slipway's record, not a live attribute:
        // reporting the cluster's current minor instead would hide an add-on a hop has not
        // moved yet (control plane done, add-on interrupted) from the next plan.
        if let Some(minor) = recorded.get("kubernetes_version") {
            properties.insert("kubernetes_version".to_owned(), minor.clone());
        }
        if let Some(role) = a.service_account_role_arn() {
            properties.insert("service_account_role_arn".to_owned(), Value::from(role));
        }
        // DescribeAddon lists association ARNs only; the recorded ones stand while the
        // count matches.
        if let Some(recorded_assoc) = recorded.get("pod_identity_associations") {
            let count = recorded.maps("pod_identity_associations")?.len();
            let value = if count == a.pod_identity_associations().len() {
                recorded_assoc.clone()
            } else {
                Value::List(Vec::new())
            };
            properties.insert("pod_identity_associations".to_owned(), value);
        }
        Ok(Some(LiveObject {
            cloud_id: id.to_owned(),
            properties,
            outputs: outputs(&a),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = split(s, id)?;
        s.mutating(
            "DeleteAddon",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "addon_name": name }),
        )
        .await?;
        found(
            c.eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
                .await
                .map_err(|e| s.fail("DeleteAddon", e)),
        )
        .map(drop)
    }
}

pub(crate) mod pod_identity {
    //! The Pod Identity association kind. EKS allows one association per service account, so
    //! adoption lists the associations of the service account and requires ownership tags.

    use aws_sdk_eks::types::PodIdentityAssociation;

    use super::*;

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        cluster: &str,
        id: &str,
    ) -> Result<Option<PodIdentityAssociation>, ProviderError> {
        s.read(API_EKS_READ).await;
        let out = found(
            c.eks
                .describe_pod_identity_association()
                .cluster_name(cluster)
                .association_id(id)
                .send()
                .await
                .map_err(|e| s.fail("DescribePodIdentityAssociation", e)),
        )?;
        Ok(out.and_then(|o| o.association().cloned()))
    }

    fn outputs(a: &PodIdentityAssociation) -> Properties {
        props_of([
            ("arn", opt(a.association_arn())),
            ("id", opt(a.association_id())),
        ])
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        replacing: Option<&str>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        let (cluster, namespace, account) = (
            p.str("cluster_name")?,
            p.str("namespace")?,
            p.str("service_account")?,
        );
        s.read(API_EKS_READ).await;
        let list = c
            .eks
            .list_pod_identity_associations()
            .cluster_name(cluster)
            .namespace(namespace)
            .service_account(account)
            .send()
            .await
            .map_err(|e| s.fail("ListPodIdentityAssociations", e))?;
        for summary in list.associations() {
            let Some(id) = summary.association_id() else {
                continue;
            };
            if replacing.is_some_and(|r| r.ends_with(&format!("/{id}"))) {
                continue;
            }
            let Some(a) = describe(c, s, cluster, id).await? else {
                continue;
            };
            if !owned(s, a.tags()) {
                return Err(not_owned(
                    s,
                    "CreatePodIdentityAssociation",
                    &format!("the Pod Identity association of {namespace}/{account}"),
                ));
            }
            return update(c, s, p, &format!("{cluster}/{id}")).await;
        }
        let token = props::client_token(generation);
        let role = p.str("role_arn")?;
        s.mutating(
            "CreatePodIdentityAssociation",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "namespace": namespace, "service_account": account, "role_arn": role, "client_request_token": token }),
        )
        .await?;
        let out = c
            .eks
            .create_pod_identity_association()
            .cluster_name(cluster)
            .namespace(namespace)
            .service_account(account)
            .role_arn(role)
            .set_tags(Some(hash_map(p.tags()?)))
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| s.fail("CreatePodIdentityAssociation", e))?;
        let a = out
            .association()
            .ok_or_else(|| s.missing("CreatePodIdentityAssociation", "association"))?;
        let id = a.association_id().ok_or_else(|| {
            s.missing("CreatePodIdentityAssociation", "association.associationId")
        })?;
        Ok(Created {
            cloud_id: format!("{cluster}/{id}"),
            outputs: outputs(a),
            ready: true,
        })
    }

    pub(crate) async fn update(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        cloud_id: &str,
    ) -> Result<Created, ProviderError> {
        let (cluster, id) = split(s, cloud_id)?;
        let a = describe(c, s, cluster, id).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribePodIdentityAssociation",
                "ResourceNotFoundException",
                cloud_id,
            )
        })?;
        let role = p.str("role_arn")?;
        if a.role_arn() != Some(role) {
            s.mutating(
                "UpdatePodIdentityAssociation",
                API_EKS,
                serde_json::json!({ "cluster_name": cluster, "association_id": id, "role_arn": role }),
            )
            .await?;
            c.eks
                .update_pod_identity_association()
                .cluster_name(cluster)
                .association_id(id)
                .role_arn(role)
                .send()
                .await
                .map_err(|e| s.fail("UpdatePodIdentityAssociation", e))?;
        }
        if let Some(arn) = a.association_arn() {
            sync_tags(c, s, arn, &eks_tags(a.tags()), &p.tags()?).await?;
        }
        Ok(Created {
            cloud_id: cloud_id.to_owned(),
            outputs: outputs(&a),
            ready: true,
        })
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        cloud_id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let (cluster, id) = split(s, cloud_id)?;
        let Some(a) = describe(c, s, cluster, id).await? else {
            return Ok(None);
        };
        Ok(Some(LiveObject {
            cloud_id: cloud_id.to_owned(),
            properties: props_of([
                ("cluster_name", opt(a.cluster_name())),
                ("namespace", opt(a.namespace())),
                ("service_account", opt(a.service_account())),
                ("role_arn", opt(a.role_arn())),
                ("tags", tags_value(&eks_tags(a.tags()))),
            ]),
            outputs: outputs(&a),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        cloud_id: &str,
    ) -> Result<(), ProviderError> {
        let (cluster, id) = split(s, cloud_id)?;
        s.mutating(
            "DeletePodIdentityAssociation",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "association_id": id }),
        )
        .await?;
        found(
            c.eks
                .delete_pod_identity_association()
                .cluster_name(cluster)
                .association_id(id)
                .send()
                .await
                .map_err(|e| s.fail("DeletePodIdentityAssociation", e)),
        )
        .map(drop)
    }
}

pub(crate) mod access_entry {
    //! The access entry kind. Its `access_policies` converge through
    //! `AssociateAccessPolicy` (an upsert of the scope) and `DisassociateAccessPolicy`.

    use aws_sdk_eks::types::{AccessEntry, AccessScope, AccessScopeType};

    use super::*;

    async fn describe(
        c: &Clients,
        s: &Session<'_>,
        cluster: &str,
        principal: &str,
    ) -> Result<Option<AccessEntry>, ProviderError> {
        s.read(API_EKS_READ).await;
        let out = found(
            c.eks
                .describe_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
                .send()
                .await
                .map_err(|e| s.fail("DescribeAccessEntry", e)),
        )?;
        Ok(out.and_then(|o| o.access_entry().cloned()))
    }

    fn outputs(e: &AccessEntry) -> Properties {
        props_of([("arn", opt(e.access_entry_arn()))])
    }

    /// Policy ARN → (scope type, namespaces).
    type Policies = BTreeMap<String, (String, Vec<String>)>;

    fn desired(p: Props<'_>) -> Result<Policies, ProviderError> {
        p.maps("access_policies")?
            .into_iter()
            .map(|a| {
                let scope = a.map("access_scope")?;
                let (kind, namespaces) = match scope {
                    Some(sc) => (sc.str("type")?.to_owned(), sc.strings("namespaces")?),
                    None => ("cluster".to_owned(), Vec::new()),
                };
                Ok((a.str("policy_arn")?.to_owned(), (kind, namespaces)))
            })
            .collect()
    }

    async fn live(
        c: &Clients,
        s: &Session<'_>,
        cluster: &str,
        principal: &str,
    ) -> Result<Policies, ProviderError> {
        s.read(API_EKS_READ).await;
        let pages = c
            .eks
            .list_associated_access_policies()
            .cluster_name(cluster)
            .principal_arn(principal)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| s.fail("ListAssociatedAccessPolicies", e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.associated_access_policies())
            .filter_map(|a| {
                let scope = a.access_scope();
                Some((
                    a.policy_arn()?.to_owned(),
                    (
                        scope
                            .and_then(|s| s.r#type())
                            .map_or("cluster", |t| t.as_str())
                            .to_owned(),
                        scope.map(|s| s.namespaces().to_vec()).unwrap_or_default(),
                    ),
                ))
            })
            .collect())
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        generation: &str,
    ) -> Result<Created, ProviderError> {
        let (cluster, principal) = (p.str("cluster_name")?, p.str("principal_arn")?);
        let cloud_id = format!("{cluster}/{principal}");
        match describe(c, s, cluster, principal).await? {
            Some(e) if owned(s, e.tags()) => {}
            Some(_) => {
                return Err(not_owned(
                    s,
                    "CreateAccessEntry",
                    &format!("the access entry of `{principal}`"),
                ));
            }
            None => {
                let token = props::client_token(generation);
                s.mutating(
                    "CreateAccessEntry",
                    API_EKS,
                    serde_json::json!({ "cluster_name": cluster, "principal_arn": principal, "client_request_token": token }),
                )
                .await?;
                c.eks
                    .create_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .set_type(p.opt_str("type")?.map(str::to_owned))
                    .set_tags(Some(hash_map(p.tags()?)))
                    .client_request_token(token)
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateAccessEntry", e))?;
            }
        }
        converge(c, s, p, &cloud_id).await
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        cloud_id: &str,
    ) -> Result<Created, ProviderError> {
        let (cluster, principal) = split(s, cloud_id)?;
        let e = describe(c, s, cluster, principal).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "DescribeAccessEntry",
                "ResourceNotFoundException",
                cloud_id,
            )
        })?;
        let want = desired(p)?;
        let have = live(c, s, cluster, principal).await?;
        for (policy, (kind, namespaces)) in &want {
            if have.get(policy) == Some(&(kind.clone(), namespaces.clone())) {
                continue;
            }
            s.mutating(
                "AssociateAccessPolicy",
                API_EKS,
                serde_json::json!({ "cluster_name": cluster, "principal_arn": principal, "policy_arn": policy, "access_scope": { "type": kind, "namespaces": namespaces } }),
            )
            .await?;
            c.eks
                .associate_access_policy()
                .cluster_name(cluster)
                .principal_arn(principal)
                .policy_arn(policy)
                .access_scope(
                    AccessScope::builder()
                        .r#type(AccessScopeType::from(kind.as_str()))
                        .set_namespaces((!namespaces.is_empty()).then(|| namespaces.clone()))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| s.fail("AssociateAccessPolicy", e))?;
        }
        for policy in have.keys().filter(|k| !want.contains_key(*k)) {
            s.mutating(
                "DisassociateAccessPolicy",
                API_EKS,
                serde_json::json!({ "cluster_name": cluster, "principal_arn": principal, "policy_arn": policy }),
            )
            .await?;
            found(
                c.eks
                    .disassociate_access_policy()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .policy_arn(policy)
                    .send()
                    .await
                    .map_err(|e| s.fail("DisassociateAccessPolicy", e)),
            )?;
        }
        if let Some(arn) = e.access_entry_arn() {
            sync_tags(c, s, arn, &eks_tags(e.tags()), &p.tags()?).await?;
        }
        Ok(Created {
            cloud_id: cloud_id.to_owned(),
            outputs: outputs(&e),
            ready: true,
        })
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        cloud_id: &str,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let (cluster, principal) = split(s, cloud_id)?;
        let Some(e) = describe(c, s, cluster, principal).await? else {
            return Ok(None);
        };
        let policies = live(c, s, cluster, principal)
            .await?
            .into_iter()
            .map(|(arn, (kind, namespaces))| {
                let mut scope = props_of([("type", Value::from(kind))]);
                if !namespaces.is_empty() {
                    scope.insert("namespaces".to_owned(), strings_value(namespaces));
                }
                Value::Map(props_of([
                    ("policy_arn", Value::from(arn)),
                    ("access_scope", Value::Map(scope)),
                ]))
            })
            .collect();
        Ok(Some(LiveObject {
            cloud_id: cloud_id.to_owned(),
            properties: props_of([
                ("cluster_name", opt(e.cluster_name())),
                ("principal_arn", opt(e.principal_arn())),
                ("type", opt(e.r#type())),
                ("access_policies", Value::List(policies)),
                ("tags", tags_value(&eks_tags(e.tags()))),
            ]),
            outputs: outputs(&e),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        cloud_id: &str,
    ) -> Result<(), ProviderError> {
        let (cluster, principal) = split(s, cloud_id)?;
        s.mutating(
            "DeleteAccessEntry",
            API_EKS,
            serde_json::json!({ "cluster_name": cluster, "principal_arn": principal }),
        )
        .await?;
        found(
            c.eks
                .delete_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
                .send()
                .await
                .map_err(|e| s.fail("DeleteAccessEntry", e)),
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::nodegroup::physical_name;

    #[test]
    fn replacement_node_groups_get_a_fresh_stable_name() {
        assert_eq!(physical_name("general", None, "g1"), "general");
        let first = physical_name("general", Some("general"), "g1");
        assert!(first.starts_with("general-") && first.len() == "general-".len() + 8);
        assert_eq!(first, physical_name("general", Some("general"), "g1"));
        let second = physical_name("general", Some(&first), "g2");
        assert_ne!(second, first);
        assert!(second.starts_with("general-"));
        let long = physical_name(&"x".repeat(80), Some("old"), "g");
        assert!(long.len() <= 63, "{long}");
    }
}
