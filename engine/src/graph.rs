//! The resource graph: every desired resource of the selected clusters and the edges between
//! them, from explicit `depends_on` and from output references in properties.
//!
//! Building the graph collects every problem (cycles with their chains, dangling references,
//! duplicate addresses, unknown providers and kinds, expansion errors) before reporting, instead
//! of stopping at the first. Building is linear in resources and edges. This module never calls
//! a cloud and never reads state.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::{self, Write as _};

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::{Deserialize, Serialize};
use slipway_blueprints::Fleet;
use slipway_provider::{Address, ProviderError, Resource};

use crate::registry::Registry;

/// Which clusters an operation covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Cluster names; empty means every cluster.
    pub clusters: Vec<String>,
}

impl Selection {
    /// Every cluster.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether the selection covers `cluster`.
    pub fn includes(&self, cluster: &str) -> bool {
        self.clusters.is_empty() || self.clusters.iter().any(|c| c == cluster)
    }
}

/// One problem found while building the graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphProblem {
    /// Resources depend on each other in a circle; `chain` starts and ends at the same address.
    #[error("dependency cycle: {}", chain_string(.chain))]
    Cycle {
        /// The cycle, first address repeated at the end.
        chain: Vec<Address>,
    },
    /// A reference or `depends_on` names an address that is not in the graph.
    #[error("`{from}` {via} `{to}`, which is not a resource of the fleet")]
    Dangling {
        /// The resource that refers.
        from: Address,
        /// The missing address.
        to: Address,
        /// How it refers: `depends on` or `references (property `p`)`.
        via: String,
    },
    /// Two resources have the same address.
    #[error("`{address}` is defined more than once")]
    Duplicate {
        /// The address.
        address: Address,
    },
    /// A cluster names a cloud no expander is registered for.
    #[error("cluster `{cluster}` uses provider `{provider}`, which is not registered")]
    UnknownProvider {
        /// The cluster.
        cluster: String,
        /// The provider name.
        provider: String,
    },
    /// A resource has a kind its provider does not declare.
    #[error("`{address}` has kind `{}`, which no registered provider declares", .address.kind)]
    UnknownKind {
        /// The resource.
        address: Address,
    },
    /// A provider failed to expand a cluster.
    #[error("expanding cluster `{cluster}` failed: {error}")]
    Expand {
        /// The cluster.
        cluster: String,
        /// The provider's error.
        error: ProviderError,
    },
    /// The selection names a cluster the fleet does not have.
    #[error("cluster `{name}` is not in the fleet")]
    UnknownCluster {
        /// The name given.
        name: String,
    },
}

fn chain_string(chain: &[Address]) -> String {
    chain
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// The graph could not be built; every problem found is listed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// One or more problems, in a deterministic order.
    #[error("the resource graph has {} problem(s):{}", .problems.len(), list_problems(.problems))]
    Invalid {
        /// Every problem found.
        problems: Vec<GraphProblem>,
    },
}

impl GraphError {
    /// Every problem found.
    pub fn problems(&self) -> &[GraphProblem] {
        match self {
            GraphError::Invalid { problems } => problems,
        }
    }
}

fn list_problems(problems: &[GraphProblem]) -> String {
    problems.iter().fold(String::new(), |mut s, p| {
        let _ = write!(s, "\n  - {p}");
        s
    })
}

/// Desired resources and their dependencies. Edges point from a dependency to its dependent.
/// Always acyclic and free of dangling references once built.
#[derive(Debug, Clone)]
pub struct ResourceGraph {
    graph: StableDiGraph<Resource, ()>,
    index: HashMap<Address, NodeIndex>,
    order: Vec<NodeIndex>,
}

/// Expands the selected clusters of `fleet` with the registered expanders and builds their graph.
///
/// Every cluster of the fleet is expanded and checked, so that problems anywhere in the fleet
/// are reported; the graph then keeps the selected clusters' resources plus whatever they
/// depend on in other clusters (a DR standby's primary), so that plans never act on half a
/// dependency.
pub fn build_graph(
    fleet: &Fleet,
    registry: &Registry,
    selection: &Selection,
) -> Result<ResourceGraph, GraphError> {
    let mut problems = Vec::new();
    for name in &selection.clusters {
        if fleet.cluster(name).is_none() {
            problems.push(GraphProblem::UnknownCluster { name: name.clone() });
        }
    }
    let mut resources = Vec::new();
    for cluster in &fleet.clusters {
        let provider = cluster.provider.as_str();
        let Some(expander) = registry.expander(provider) else {
            problems.push(GraphProblem::UnknownProvider {
                cluster: cluster.name.clone(),
                provider: provider.to_owned(),
            });
            continue;
        };
        match expander.expand(fleet, cluster) {
            Ok(rs) => {
                for r in &rs {
                    if registry.schema(&r.address.kind).is_none() {
                        problems.push(GraphProblem::UnknownKind {
                            address: r.address.clone(),
                        });
                    }
                }
                resources.extend(rs);
            }
            Err(error) => problems.push(GraphProblem::Expand {
                cluster: cluster.name.clone(),
                error,
            }),
        }
    }
    let full = match ResourceGraph::from_resources(resources) {
        Ok(g) if problems.is_empty() => g,
        Ok(_) => return Err(GraphError::Invalid { problems }),
        Err(e) => {
            problems.extend(e.problems().iter().cloned());
            return Err(GraphError::Invalid { problems });
        }
    };
    if selection.clusters.is_empty() {
        return Ok(full);
    }
    Ok(full.restrict(selection))
}

/// Addresses a resource depends on, each with how it refers, without repeats.
fn edges_of(r: &Resource) -> Vec<(&Address, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for d in &r.depends_on {
        if seen.insert(d) {
            out.push((d, "depends on".to_owned()));
        }
    }
    for (name, value) in &r.properties {
        for rf in value.refs() {
            if seen.insert(&rf.address) {
                out.push((&rf.address, format!("references (property `{name}`)")));
            }
        }
    }
    out
}

impl ResourceGraph {
    /// Builds a graph from resources, checking for duplicates, dangling references and cycles.
    pub fn from_resources(resources: Vec<Resource>) -> Result<Self, GraphError> {
        let mut problems = Vec::new();
        let mut graph = StableDiGraph::with_capacity(resources.len(), resources.len() * 2);
        let mut index = HashMap::with_capacity(resources.len());
        for r in resources {
            if index.contains_key(&r.address) {
                problems.push(GraphProblem::Duplicate { address: r.address });
                continue;
            }
            let address = r.address.clone();
            let n = graph.add_node(r);
            index.insert(address, n);
        }
        let mut edges = Vec::new();
        for n in graph.node_indices() {
            let r = &graph[n];
            for (to, via) in edges_of(r) {
                match index.get(to) {
                    Some(&dep) => edges.push((dep, n)),
                    None => problems.push(GraphProblem::Dangling {
                        from: r.address.clone(),
                        to: to.clone(),
                        via,
                    }),
                }
            }
        }
        for (a, b) in edges {
            graph.add_edge(a, b, ());
        }
        problems.extend(find_cycles(&graph));
        if !problems.is_empty() {
            return Err(GraphError::Invalid { problems });
        }
        let order = topo(&graph);
        Ok(Self {
            graph,
            index,
            order,
        })
    }

    /// Keeps the selected clusters' resources and, transitively, what they depend on.
    fn restrict(self, selection: &Selection) -> Self {
        let mut keep: HashSet<NodeIndex> = HashSet::new();
        let mut queue: VecDeque<NodeIndex> = self
            .order
            .iter()
            .copied()
            .filter(|&n| selection.includes(&self.graph[n].address.cluster))
            .collect();
        while let Some(n) = queue.pop_front() {
            if keep.insert(n) {
                queue.extend(self.graph.neighbors_directed(n, Direction::Incoming));
            }
        }
        let mut graph = self.graph;
        let mut index = self.index;
        let dropped: Vec<NodeIndex> = graph.node_indices().filter(|n| !keep.contains(n)).collect();
        for n in dropped {
            if let Some(r) = graph.remove_node(n) {
                index.remove(&r.address);
            }
        }
        let order = self
            .order
            .into_iter()
            .filter(|n| keep.contains(n))
            .collect();
        Self {
            graph,
            index,
            order,
        }
    }

    /// Number of resources.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the graph has no resources.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Every resource, in a dependency-respecting order.
    pub fn resources(&self) -> impl Iterator<Item = &Resource> + '_ {
        self.order.iter().map(|&n| &self.graph[n])
    }

    /// The resource at `address`.
    pub fn get(&self, address: &Address) -> Option<&Resource> {
        self.index.get(address).map(|&n| &self.graph[n])
    }

    /// Whether `address` is in the graph.
    pub fn contains(&self, address: &Address) -> bool {
        self.index.contains_key(address)
    }

    /// Direct dependencies of `address` (explicit and through references), sorted.
    pub fn dependencies(&self, address: &Address) -> Vec<&Address> {
        self.neighbours(address, Direction::Incoming)
    }

    /// Direct dependents of `address`, sorted.
    pub fn dependents(&self, address: &Address) -> Vec<&Address> {
        self.neighbours(address, Direction::Outgoing)
    }

    fn neighbours(&self, address: &Address, dir: Direction) -> Vec<&Address> {
        let Some(&n) = self.index.get(address) else {
            return Vec::new();
        };
        let mut out: Vec<&Address> = self
            .graph
            .neighbors_directed(n, dir)
            .map(|m| &self.graph[m].address)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every resource after all of its dependencies; ties broken by insertion order, so the
    /// order is deterministic.
    pub fn topo_order(&self) -> Vec<&Resource> {
        self.resources().collect()
    }

    /// Graphviz rendering, clusters as subgraphs.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph slipway {\n  rankdir=LR;\n  node [shape=box];\n");
        let mut by_cluster: Vec<(&str, Vec<&Address>)> = Vec::new();
        for r in self.resources() {
            match by_cluster.iter_mut().find(|(c, _)| *c == r.address.cluster) {
                Some((_, v)) => v.push(&r.address),
                None => by_cluster.push((&r.address.cluster, vec![&r.address])),
            }
        }
        for (cluster, addrs) in by_cluster {
            let _ = writeln!(
                s,
                "  subgraph \"cluster_{cluster}\" {{\n    label=\"{cluster}\";"
            );
            for a in addrs {
                let _ = writeln!(s, "    \"{a}\";");
            }
            s.push_str("  }\n");
        }
        for (from, to) in self.edge_list() {
            let _ = writeln!(s, "  \"{from}\" -> \"{to}\";");
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid flowchart rendering.
    pub fn to_mermaid(&self) -> String {
        let ids: HashMap<&Address, usize> = self
            .resources()
            .enumerate()
            .map(|(i, r)| (&r.address, i))
            .collect();
        let mut s = String::from("flowchart LR\n");
        for r in self.resources() {
            let _ = writeln!(s, "  n{}[\"{}\"]", ids[&r.address], r.address);
        }
        for (from, to) in self.edge_list() {
            let _ = writeln!(s, "  n{} --> n{}", ids[from], ids[to]);
        }
        s
    }

    /// JSON rendering: `{"resources": [{"address", "kind", "depends_on": [...]}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let resources: Vec<serde_json::Value> = self
            .resources()
            .map(|r| {
                serde_json::json!({
                    "address": r.address.to_string(),
                    "kind": r.address.kind.as_str(),
                    "depends_on": self.dependencies(&r.address).iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({ "resources": resources })
    }

    /// Edges in a deterministic order (dependents in topological order, dependencies sorted).
    fn edge_list(&self) -> Vec<(&Address, &Address)> {
        let mut out = Vec::new();
        for r in self.resources() {
            for d in self.dependencies(&r.address) {
                out.push((d, &r.address));
            }
        }
        out
    }
}

/// Kahn's algorithm with a FIFO, seeded in insertion order, so the order is deterministic.
fn topo(graph: &StableDiGraph<Resource, ()>) -> Vec<NodeIndex> {
    let mut indegree: HashMap<NodeIndex, usize> = graph
        .node_indices()
        .map(|n| (n, graph.neighbors_directed(n, Direction::Incoming).count()))
        .collect();
    let mut queue: VecDeque<NodeIndex> =
        graph.node_indices().filter(|n| indegree[n] == 0).collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(n) = queue.pop_front() {
        order.push(n);
        for m in graph.neighbors_directed(n, Direction::Outgoing) {
            if let Some(d) = indegree.get_mut(&m) {
                *d -= 1;
                if *d == 0 {
                    queue.push_back(m);
                }
            }
        }
    }
    order
}

/// One problem per strongly connected component that contains a cycle, with a concrete chain
/// through it, starting at the component's smallest address.
fn find_cycles(graph: &StableDiGraph<Resource, ()>) -> Vec<GraphProblem> {
    let mut problems = Vec::new();
    for scc in petgraph::algo::tarjan_scc(graph) {
        let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let Some(&start) = scc.iter().min_by_key(|&&n| &graph[n].address) else {
            continue;
        };
        let members: HashSet<NodeIndex> = scc.iter().copied().collect();
        let chain = cycle_through(graph, start, &members);
        problems.push(GraphProblem::Cycle {
            chain: chain
                .into_iter()
                .map(|n| graph[n].address.clone())
                .collect(),
        });
    }
    problems.sort_by_cached_key(ToString::to_string);
    problems
}

/// A shortest path from `start` back to itself inside one strongly connected component.
fn cycle_through(
    graph: &StableDiGraph<Resource, ()>,
    start: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Vec<NodeIndex> {
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some(n) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph
            .neighbors_directed(n, Direction::Outgoing)
            .filter(|m| members.contains(m))
            .collect();
        next.sort_by(|a, b| graph[*a].address.cmp(&graph[*b].address));
        for m in next {
            if m == start {
                let mut chain = vec![start, n];
                let mut cur = n;
                while let Some(&p) = parent.get(&cur) {
                    chain.push(p);
                    cur = p;
                }
                // `chain` is start, n, ..., start reversed; make it start -> ... -> n -> start.
                chain.reverse();
                return chain;
            }
            if seen.insert(m) {
                parent.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    vec![start, start]
}

impl fmt::Display for ResourceGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.resources() {
            let deps = self.dependencies(&r.address);
            if deps.is_empty() {
                writeln!(f, "{}", r.address)?;
            } else {
                let deps: BTreeSet<String> = deps.iter().map(ToString::to_string).collect();
                writeln!(
                    f,
                    "{} <- {}",
                    r.address,
                    deps.into_iter().collect::<Vec<_>>().join(", ")
                )?;
            }
        }
        Ok(())
    }
}
