//! Slipway's AWS provider: turns a blueprint cluster into the resources of a production EKS
//! cluster (VPC, subnets, gateways, route tables, security groups, IAM roles, the EKS cluster,
//! its OIDC provider, managed node groups, add-ons, workload identities, VPC endpoints and
//! access entries).
//!
//! Two halves: [`AwsExpander`], the pure expansion and kind schemas (no SDK, no network), and
//! [`AwsProvider`], which adds create/read/update/delete/wait with aws-sdk-rust clients and
//! sends exactly the properties expanded here.
//!
//! Conventions the provider relies on:
//! - Property names are the AWS API parameters in snake_case; a property needing another
//!   object's id or ARN is a reference to that object's output.
//! - Every resource carries a `tags` map with `Name`, the cluster's tags and the ownership tags
//!   [`slipway_provider::TAG_FLEET`], [`slipway_provider::TAG_CLUSTER`] and
//!   [`slipway_provider::TAG_ADDRESS`].
//! - Security group rules are inline (`ingress`/`egress`), each with exactly one of
//!   `cidr_ipv4`, `referenced_group_id` or `self: true` (the group's own id).
//! - IAM trust policies may hold `{{name}}` placeholders filled from
//!   `assume_role_policy_vars` after references are resolved.
//! - Every resource has a `region` property: where its calls go, even after it left the
//!   blueprint.
//! - A node group replacement is created before the old one is deleted, so the provider must
//!   give it a fresh physical name (`CreateRequest::replacing`).

pub mod addons;
mod expand;
pub mod kinds;
pub mod names;
mod provider;

#[cfg(test)]
mod fixtures;

use slipway_blueprints::{Cluster, Fleet};
use slipway_provider::{Expander, KindSchema, ProviderError, Resource};

pub use expand::ExpandError;
pub use provider::{
    API_EC2_READ, API_EKS_READ, API_IAM_READ, AwsProvider, AwsProviderConfig, StaticCredentials,
};

/// The pure half of the AWS provider: kind schemas and cluster expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsExpander {
    kinds: Vec<KindSchema>,
}

impl AwsExpander {
    /// Builds the expander with the schemas of every AWS kind.
    pub fn new() -> Self {
        Self {
            kinds: kinds::schemas(),
        }
    }
}

impl Default for AwsExpander {
    fn default() -> Self {
        Self::new()
    }
}

impl Expander for AwsExpander {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn kinds(&self) -> &[KindSchema] {
        &self.kinds
    }

    fn expand(&self, fleet: &Fleet, cluster: &Cluster) -> Result<Vec<Resource>, ProviderError> {
        expand::expand(fleet, cluster).map_err(ProviderError::from)
    }

    fn upgrade_phase(
        &self,
        kind: &slipway_provider::Kind,
    ) -> Option<slipway_provider::UpgradePhase> {
        kinds::upgrade_phase(kind)
    }

    fn build_phase(&self, kind: &slipway_provider::Kind) -> slipway_provider::BuildPhase {
        kinds::build_phase(kind)
    }
}
