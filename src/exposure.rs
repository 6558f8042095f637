//! Which tools a server exposes: `--read-only` drops every tool that is not read-only (by its
//! `readOnlyHint`, so the list cannot drift from the tools), `--tools` keeps only those named.
//! Names are checked when the configuration is parsed ([`Exposure::new`]).

use rmcp::handler::server::router::tool::ToolRouter;

use crate::tools::{self, Toolbox};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Drop every tool that changes something in Whop.
    pub read_only: bool,
    /// Keep only these tools (after `read_only`); `None` = all.
    pub only: Option<Vec<String>>,
}

impl Exposure {
    /// Fails, naming the valid tools, when `only` names an unknown tool.
    pub fn new(read_only: bool, only: Option<Vec<String>>) -> Result<Self, String> {
        if let Some(bad) = only.iter().flatten().find(|n| !Self::known(n)) {
            return Err(format!(
                "unknown tool {bad:?} in WHOP_TOOLS/--tools; valid names: {}",
                all_tool_names().join(", ")
            ));
        }
        Ok(Exposure { read_only, only })
    }

    fn known(name: &str) -> bool {
        tools::catalog().iter().any(|t| t.name == name)
    }

    /// Whether the tool called `name` is exposed.
    pub fn exposes(&self, tool: &rmcp::model::Tool) -> bool {
        (!self.read_only || tools::is_read_only(tool))
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| *n == tool.name))
    }

    /// The router limited to the exposed tools.
    pub fn router(&self) -> ToolRouter<Toolbox> {
        let mut router = tools::router();
        for tool in tools::catalog() {
            if !self.exposes(tool) {
                router.remove_route(&tool.name);
            }
        }
        router
    }
}

/// Every tool this server has, whatever the exposure.
pub fn all_tool_names() -> Vec<String> {
    tools::catalog()
        .iter()
        .map(|t| t.name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_keeps_exactly_the_tools_that_only_read() {
        let names = |e: &Exposure| -> Vec<String> {
            tools::catalog()
                .iter()
                .filter(|t| e.exposes(t))
                .map(|t| t.name.to_string())
                .collect()
        };
        let all = names(&Exposure::default());
        assert_eq!(all.len(), 14);
        let read = names(&Exposure::new(true, None).unwrap());
        for write in [
            "send_message",
            "upload_file",
            "edit_message",
            "delete_message",
            "add_reaction",
            "remove_reaction",
            "open_support_channel",
        ] {
            assert!(all.iter().any(|n| n == write) && !read.iter().any(|n| n == write));
        }
        assert_eq!(read.len(), 7);
        let only = Exposure::new(true, Some(vec!["send_message".into(), "whoami".into()]));
        assert_eq!(names(&only.unwrap()), ["whoami"]);
        let e = Exposure::new(false, Some(vec!["nope".into()])).unwrap_err();
        assert!(e.contains("\"nope\"") && e.contains("list_messages"), "{e}");
    }
}
