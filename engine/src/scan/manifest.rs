//! Reading Kubernetes objects out of manifest text and checking them against the API lifecycle
//! table.
//!
//! Accepts multi-document YAML (`---`, including a leading separator and empty documents), JSON
//! (`kubectl get -o json`), `List` and `*List` kinds with `items`, `helm template` output (the
//! `# Source:` comments name the template), and Helm 3 release records (Secrets of type
//! `helm.sh/release.v1`, ConfigMaps labelled `owner: helm`) whose stored manifest is decoded and
//! read too. Documents without both `apiVersion` and `kind` (values files, kustomizations) are
//! skipped silently. This module never panics and never stops at a bad document: each problem
//! becomes a [`ManifestError`] with its position and the other documents are still read.

mod helm;
mod tree;

use std::fmt;

use serde::Serialize;
use slipway_blueprints::KubeVersion;

use super::lifecycle::{self, ApiLifecycle, ApiStatus};
use tree::{Node, Value};

/// How many Helm releases deep a manifest may nest (a release whose manifest holds a release).
const MAX_HELM_DEPTH: usize = 2;

/// One manifest text to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestSource {
    /// The path as given, `-` for stdin, or `live:…` for objects read from a cluster.
    pub name: String,
    /// The text.
    pub text: String,
}

/// One object found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestObject {
    /// The source's name.
    pub file: String,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    /// 1-based line of the object's `apiVersion` key.
    pub line: usize,
    /// 1-based column of the object's `apiVersion` key.
    pub column: usize,
    /// `apiVersion` as written.
    pub api_version: String,
    /// `kind` as written.
    pub kind: String,
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// How the object was reached when it is not a plain document: `List item 2` (0-based index
    /// in `items`), `# Source: chart/templates/x.yaml`, or `Helm release web revision 3, template
    /// chart/templates/x.yaml line 4` (the line inside the release manifest); parts are joined
    /// with `, `.
    pub via: Option<String>,
}

/// A document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ManifestError {
    /// The source's name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

/// An object using an API that is removed or deprecated at the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiFinding {
    /// The object.
    pub object: ManifestObject,
    /// Its API's lifecycle row.
    pub lifecycle: &'static ApiLifecycle,
    /// [`ApiStatus::Removed`] or [`ApiStatus::Deprecated`].
    pub status: ApiStatus,
}

impl fmt::Display for ManifestObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} {}",
            self.file, self.line, self.column, self.api_version, self.kind
        )?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        if let Some(via) = &self.via {
            write!(f, " (via {via})")?;
        }
        Ok(())
    }
}

/// Reads every object in `src`, with the problems met on the way.
pub fn read_objects(src: &ManifestSource) -> (Vec<ManifestObject>, Vec<ManifestError>) {
    let mut reader = Reader {
        file: &src.name,
        objects: Vec::new(),
        errors: Vec::new(),
    };
    reader.text(&src.text, 0);
    (reader.objects, reader.errors)
}

/// The objects whose API is removed or deprecated at `target`, in input order.
pub fn check(objects: &[ManifestObject], target: KubeVersion) -> Vec<ApiFinding> {
    objects
        .iter()
        .filter_map(|object| {
            let lifecycle = lifecycle::find(&object.api_version, &object.kind)?;
            let status = lifecycle.status_at(target);
            (status != ApiStatus::Current).then(|| ApiFinding {
                object: object.clone(),
                lifecycle,
                status,
            })
        })
        .collect()
}

/// One chunk of the text between document separators.
struct Chunk<'a> {
    /// 1-based line of the chunk's first line in the whole text.
    first_line: usize,
    text: &'a str,
}

/// Splits YAML text at `---` lines so that one bad document does not hide the others (the YAML
/// parser cannot resume after a syntax error). JSON text is one chunk.
fn split_documents(text: &str) -> Vec<Chunk<'_>> {
    if text.trim_start().starts_with(['{', '[']) {
        return vec![Chunk {
            first_line: 1,
            text,
        }];
    }
    let mut chunks = Vec::new();
    let (mut start, mut start_line, mut offset) = (0, 1, 0);
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let separator = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        if separator && offset > start {
            chunks.push(Chunk {
                first_line: start_line,
                text: &text[start..offset],
            });
            start = offset;
            start_line = index + 1;
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        first_line: start_line,
        text: &text[start..],
    });
    chunks
}

/// The template named by a `# Source:` comment in a chunk (as `helm template` writes).
fn source_comment(chunk: &str) -> Option<&str> {
    chunk
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("# Source: "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// How an object was reached, kept structured until it is rendered into `via`.
#[derive(Debug, Clone, Default)]
struct Origin {
    /// A Helm release prefix, already rendered.
    helm: Option<String>,
    /// The `# Source:` template.
    source: Option<String>,
    /// Indices in nested `items` lists.
    list: Vec<usize>,
}

impl Origin {
    fn via(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(helm) = &self.helm {
            parts.push(helm.clone());
        } else if let Some(source) = &self.source {
            parts.push(format!("# Source: {source}"));
        }
        parts.extend(self.list.iter().map(|i| format!("List item {i}")));
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

struct Reader<'a> {
    file: &'a str,
    objects: Vec<ManifestObject>,
    errors: Vec<ManifestError>,
}

impl Reader<'_> {
    fn error(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.errors.push(ManifestError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        });
    }

    fn text(&mut self, text: &str, helm_depth: usize) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut document = 0;
        for chunk in split_documents(text) {
            let origin = Origin {
                source: source_comment(chunk.text).map(str::to_owned),
                ..Origin::default()
            };
            match tree::parse(chunk.text) {
                Ok(roots) => {
                    for root in roots {
                        let shift = |n: usize| n + chunk.first_line - 1;
                        self.document(&root, document, &shift, &origin, helm_depth);
                        document += 1;
                    }
                }
                Err(err) => {
                    // At end of input the parser points past the chunk; keep the position in it.
                    let last = chunk.text.lines().count().max(1);
                    let (line, column) = if err.line > last {
                        let width = chunk.text.lines().last().map_or(0, |l| l.chars().count());
                        (last, width + 1)
                    } else {
                        (err.line.max(1), err.column)
                    };
                    let line = line + chunk.first_line - 1;
                    self.error(line, column, format!("invalid YAML: {}", err.message));
                    document += 1;
                }
            }
        }
    }

    /// Reads one root (or `items` element) node.
    fn document(
        &mut self,
        node: &Node,
        document: usize,
        shift: &dyn Fn(usize) -> usize,
        origin: &Origin,
        helm_depth: usize,
    ) {
        let Some((key, api_version)) = node
            .entry("apiVersion")
            .and_then(|(k, v)| Some((k, v.text()?)))
        else {
            return;
        };
        let Some(kind) = node.get("kind").and_then(Node::text) else {
            return;
        };
        if api_version.is_empty() || kind.is_empty() {
            return;
        }
        let object = ManifestObject {
            file: self.file.to_owned(),
            document,
            line: shift(key.line),
            column: key.column,
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            name: node.str_at(&["metadata", "name"]).map(str::to_owned),
            namespace: node.str_at(&["metadata", "namespace"]).map(str::to_owned),
            via: origin.via(),
        };
        if let Some(Value::Seq(items)) = node.get("items").map(|n| &n.value)
            && (kind == "List" || kind.ends_with("List"))
        {
            for (index, item) in items.iter().enumerate() {
                let mut inner = origin.clone();
                inner.list.push(index);
                self.document(item, document, shift, &inner, helm_depth);
            }
            return;
        }
        let driver = match (api_version, kind) {
            ("v1", "Secret") if node.str_at(&["type"]) == Some("helm.sh/release.v1") => {
                Some(helm::Driver::Secret)
            }
            ("v1", "ConfigMap")
                if node.str_at(&["metadata", "labels", "owner"]) == Some("helm") =>
            {
                Some(helm::Driver::ConfigMap)
            }
            _ => None,
        };
        if let Some(driver) = driver {
            self.helm_release(node, &object, driver, shift, helm_depth);
        }
        self.objects.push(object);
    }

    /// Decodes a Helm release record and reads its manifest, reporting what it holds at the
    /// record's own position.
    fn helm_release(
        &mut self,
        node: &Node,
        record: &ManifestObject,
        driver: helm::Driver,
        shift: &dyn Fn(usize) -> usize,
        helm_depth: usize,
    ) {
        let Some(data) = node.get("data").and_then(|d| d.get("release")) else {
            return;
        };
        let (line, column) = (shift(data.line), data.column);
        let Some(text) = data.text() else {
            self.error(
                line,
                column,
                "the Helm release record's data.release is not a string",
            );
            return;
        };
        if helm_depth >= MAX_HELM_DEPTH {
            self.error(line, column, "Helm release records nest too deeply");
            return;
        }
        let release = match helm::decode(text, driver) {
            Ok(release) => release,
            Err(message) => {
                self.error(line, column, message);
                return;
            }
        };
        let prefix = format!("Helm release {} revision {}", release.name, release.version);
        let mut inner = Reader {
            file: self.file,
            objects: Vec::new(),
            errors: Vec::new(),
        };
        inner.text(&release.manifest, helm_depth + 1);
        // Inner objects and errors are placed at the record; their own lines go into the text.
        for err in inner.errors {
            self.error(
                line,
                column,
                format!(
                    "{prefix}: manifest line {}:{}: {}",
                    err.line, err.column, err.message
                ),
            );
        }
        for object in inner.objects {
            let template = match &object.via {
                Some(via) => match via.strip_prefix("# Source: ") {
                    Some(rest) => format!(", template {rest} line {}", object.line),
                    None => format!(", manifest line {} ({via})", object.line),
                },
                None => format!(", manifest line {}", object.line),
            };
            self.objects.push(ManifestObject {
                file: record.file.clone(),
                document: record.document,
                line: record.line,
                column: record.column,
                via: Some(format!("{prefix}{template}")),
                ..object
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<ManifestObject>, Vec<ManifestError>) {
        read_objects(&ManifestSource {
            name: "m.yaml".into(),
            text: text.into(),
        })
    }

    fn brief(objects: &[ManifestObject]) -> Vec<String> {
        objects
            .iter()
            .map(|o| {
                format!(
                    "{}@{}:{} {} {} {:?}",
                    o.document, o.line, o.column, o.api_version, o.kind, o.via
                )
            })
            .collect()
    }

    #[test]
    fn multi_document_positions_and_empty_documents() {
        let text = "---\n# c\napiVersion: v1\nkind: A\n---\n---\nfoo: bar\n---\n  apiVersion: x/v1\n  kind: B\n  metadata: {name: b, namespace: n}\n";
        let (objects, errors) = read(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(brief(&objects), ["0@3:1 v1 A None", "3@9:3 x/v1 B None"]);
        assert_eq!(objects[1].name.as_deref(), Some("b"));
        assert_eq!(objects[1].namespace.as_deref(), Some("n"));
    }

    #[test]
    fn lists_report_each_item_at_its_own_line() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1beta1\n  kind: Deployment\n- kind: NoVersion\n- apiVersion: v1\n  kind: ServiceList\n  items:\n  - apiVersion: v1\n    kind: Service\n";
        let (objects, errors) = read(text);
        assert!(errors.is_empty());
        assert_eq!(
            brief(&objects),
            [
                "0@4:3 apps/v1beta1 Deployment Some(\"List item 0\")",
                "0@10:5 v1 Service Some(\"List item 2, List item 0\")",
            ]
        );
    }

    #[test]
    fn json_lists_are_read() {
        let text = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n    {\"apiVersion\": \"batch/v1beta1\", \"kind\": \"CronJob\", \"metadata\": {\"name\": \"c\"}}\n  ]\n}\n";
        let (objects, errors) = read(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(objects.len(), 1);
        assert_eq!((objects[0].line, objects[0].kind.as_str()), (5, "CronJob"));
    }

    #[test]
    fn helm_template_sources_are_captured() {
        let text = "---\n# Source: web/templates/ingress.yaml\napiVersion: extensions/v1beta1\nkind: Ingress\n";
        let (objects, _) = read(text);
        assert_eq!(
            objects[0].via.as_deref(),
            Some("# Source: web/templates/ingress.yaml")
        );
    }

    #[test]
    fn bad_documents_are_errors_and_reading_goes_on() {
        let text = "apiVersion: v1\nkind: A\n---\nkey: [unclosed\n---\napiVersion: v1\nkind: B\n";
        let (objects, errors) = read(text);
        assert_eq!(brief(&objects), ["0@1:1 v1 A None", "2@6:1 v1 B None"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].line >= 4, "{:?}", errors[0]);
        assert!(errors[0].to_string().starts_with("m.yaml:"));
    }

    fn release_record(kind: &str, data: &str) -> String {
        let header = if kind == "Secret" {
            "apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\nmetadata:\n  name: sh.helm.release.v1.web.v3\n"
        } else {
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web.v3\n  labels:\n    owner: helm\n"
        };
        format!("# leading\n{header}data:\n  release: {data}\n")
    }

    #[test]
    fn helm_release_records_are_decoded_at_the_record() {
        let manifest = "---\n# Source: web/templates/ingress.yaml\napiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n";
        for (kind, driver) in [
            ("Secret", helm::Driver::Secret),
            ("ConfigMap", helm::Driver::ConfigMap),
        ] {
            let text = release_record(kind, &helm::encode("web", 3, manifest, driver));
            let (objects, errors) = read(&text);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(objects.len(), 2, "{objects:?}");
            let ingress = &objects[0];
            assert_eq!((ingress.line, ingress.column), (2, 1));
            assert_eq!(ingress.kind, "Ingress");
            assert_eq!(
                ingress.via.as_deref(),
                Some("Helm release web revision 3, template web/templates/ingress.yaml line 3")
            );
            assert_eq!(objects[1].kind, kind);
        }
    }

    #[test]
    fn broken_helm_records_are_errors_at_data_release() {
        let text = release_record("Secret", "not-base64!");
        let (objects, errors) = read(&text);
        assert_eq!(objects.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column), (8, 12));
        let bad_manifest = helm::encode("web", 1, "a: [unclosed\n", helm::Driver::Secret);
        let (_, errors) = read(&release_record("Secret", &bad_manifest));
        assert!(
            errors[0]
                .message
                .starts_with("Helm release web revision 1: manifest line")
        );
    }

    #[test]
    fn check_keeps_only_removed_and_deprecated() {
        let text = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\n---\napiVersion: apps/v1\nkind: Deployment\n";
        let (objects, _) = read(text);
        let findings = check(&objects, KubeVersion::new(1, 21));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].status, ApiStatus::Deprecated);
        assert_eq!(
            check(&objects, KubeVersion::new(1, 25))[0].status,
            ApiStatus::Removed
        );
        assert!(check(&objects, KubeVersion::new(1, 20)).is_empty());
    }
}
