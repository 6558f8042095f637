//! The MCP `ServerHandler`, as wiring only: each method delegates to the tools, the resources
//! or the prompts, and what it answers (results, resources, prompts, errors) passes the exit
//! [`Gate`] on its way out.
//!
//! The tool list is built once at start-up (see [`crate::tools::catalog`]), so `tools/list`
//! costs a clone, not a schema generation.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{
        prompt::PromptContext,
        router::{prompt::PromptRouter, tool::ToolRouter},
        tool::ToolCallContext,
    },
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
        GetPromptRequestParams, GetPromptResponse, ListPromptsResult, ListResourceTemplatesResult,
        ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt,
        ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
        SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
    },
    service::{DynService, RequestContext, ServiceExt as _, SubscriptionContext},
};

use crate::{
    exposure::Exposure,
    gate::Gate,
    limits::Limits,
    output::text::inline,
    prompts::{self, Prompts},
    resources::{Resources, Subscriptions},
    shared::Handle,
    state::State,
    tools::{Settings, Toolbox},
    whop,
};

#[derive(Clone)]
pub struct WhopServer {
    toolbox: Arc<Toolbox>,
    router: Arc<ToolRouter<Toolbox>>,
    tools: Arc<Vec<Tool>>,
    resources: Arc<Resources>,
    /// This session's legacy `resources/subscribe` subscriptions.
    subscriptions: Subscriptions,
    prompts: Arc<(PromptRouter<Prompts>, Vec<Prompt>, Prompts)>,
    /// What the model is told at initialisation (see [`Exposure::instructions`]).
    instructions: Arc<str>,
    gate: Gate,
    limits: Limits,
    /// Serving stateless HTTP: no session outlives a request.
    stateless: bool,
    /// Its answers are written by [`crate::transport`], which copies `structuredContent` in
    /// as the JSON it was encoded to; any other writer gets the `Value` (see
    /// [`crate::json::structured`]).
    writes_structured_json: bool,
    /// What this server exposes.
    exposure: Arc<Exposure>,
    /// State shared with other replicas (wake-ups reach the watchers through it).
    state: Handle,
}

impl WhopServer {
    /// A server whose state stays in this process, without a rate budget.
    pub fn new(client: whop::Client, settings: Settings, exposure: &Exposure) -> Self {
        Self::with_state(client, settings, exposure, &State::local())
    }

    /// A server sharing `state` (see [`State::connect`]): its client asks the state's rate
    /// budget before every Whop request, and its waits, watchers and webhook receiver use the
    /// state's wake-ups, leases and delivery ids.
    pub fn with_state(
        client: whop::Client,
        settings: Settings,
        exposure: &Exposure,
        state: &State,
    ) -> Self {
        let gate = Gate::new(settings.api_key.as_ref());
        let client = match state.budget() {
            Some(budget) => client.with_budget(budget),
            None => client,
        };
        let state = state.handle();
        let toolbox = Arc::new(Toolbox::new(client, settings, state.clone(), gate.clone()));
        let tools = crate::tools::catalog()
            .iter()
            .filter(|t| exposure.exposes(t))
            .cloned()
            .collect();
        WhopServer {
            resources: Arc::new(Resources::new(toolbox.clone(), gate.clone(), exposure)),
            router: Arc::new(exposure.router()),
            tools: Arc::new(tools),
            toolbox,
            subscriptions: Subscriptions::default(),
            prompts: Arc::new(prompts::router(exposure)),
            instructions: exposure.instructions().into(),
            gate,
            limits: Limits::default(),
            stateless: false,
            writes_structured_json: false,
            exposure: Arc::new(exposure.clone()),
            state,
        }
    }

    /// What this server exposes.
    pub(crate) fn exposure(&self) -> &Exposure {
        &self.exposure
    }

    /// The same server (client, caches, watchers and limits shared) exposing only the tools
    /// that read, as `--read-only` would: what an OAuth token with the read scope only gets.
    /// `None` when no tool would be left.
    pub(crate) fn reads_only(&self) -> Option<Self> {
        let exposure = Exposure {
            read_only: true,
            ..(*self.exposure).clone()
        };
        if exposure.tool_names().is_empty() {
            return None;
        }
        let tools = crate::tools::catalog()
            .iter()
            .filter(|t| exposure.exposes(t))
            .cloned()
            .collect();
        Some(WhopServer {
            resources: Arc::new(self.resources.narrowed(&exposure)),
            router: Arc::new(exposure.router()),
            tools: Arc::new(tools),
            prompts: Arc::new(prompts::router(&exposure)),
            instructions: exposure.instructions().into(),
            exposure: Arc::new(exposure),
            ..self.clone()
        })
    }

    /// A copy for a new client session: shares the client, caches and watchers, but has its
    /// own table of legacy subscriptions.
    pub(crate) fn new_session(&self) -> Self {
        WhopServer {
            subscriptions: Subscriptions::default(),
            limits: self.limits.new_session(),
            ..self.clone()
        }
    }

    /// This server for the stdio transport ([`crate::transport::GuardedStdio`]), whose writer
    /// copies encoded `structuredContent` in place.
    pub fn over_stdio(self) -> Self {
        WhopServer {
            writes_structured_json: true,
            ..self
        }
    }

    /// The service rmcp runs over stdio: this server behind a box (rmcp's HTTP service takes a
    /// `ServerHandler` itself, so HTTP goes without). rmcp spawns a task for every request around
    /// `handle_request`'s future, which is as large as its largest arm (6.7 KB with rmcp 3.11; the
    /// legacy `resources/subscribe` arm alone is 4.8 KB), and moves it several times before it
    /// first runs. Boxed, that future is written once and only a pointer moves: about 5 k fewer
    /// instructions per call (callgrind: a `ping` 40.5 k instead of 45.5 k).
    pub fn into_service(self) -> Box<dyn DynService<RoleServer>> {
        self.into_dyn()
    }

    /// This server for stateless HTTP, where legacy subscriptions cannot work.
    pub(crate) fn stateless(self) -> Self {
        WhopServer {
            stateless: true,
            ..self
        }
    }

    /// Channels with a watcher now (for tests and logs).
    pub fn watched_channels(&self) -> Vec<String> {
        self.resources.watched()
    }

    /// The state this server shares with its replicas (the webhook receiver publishes to it).
    pub fn shared_state(&self) -> Handle {
        self.state.clone()
    }
}

impl ServerHandler for WhopServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .build(),
        )
        .with_server_info(crate::identity::implementation())
        .with_instructions(self.instructions.to_string())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = inline(&request.name);
        tracing::debug!(tool = %name, "tool call");
        if let Some(mut refused) = crate::tools::refuse_unknown_arguments(&self.tools, &request) {
            tracing::info!(tool = %name, "tool call refused: unknown arguments");
            self.gate.result(&mut refused);
            return Ok(refused.into());
        }
        let _admitted = match self.limits.admit(&request.name).await {
            Ok(admission) => admission,
            Err(busy) => {
                tracing::warn!(tool = %name, "tool call refused: busy");
                return Ok(CallToolResult::error(vec![ContentBlock::text(busy)]).into());
            }
        };
        let mut response = self
            .router
            .call(ToolCallContext::new(&*self.toolbox, request, context))
            .await
            .map_err(|e| self.gate.error(e))?;
        if let CallToolResponse::Complete(result) = &mut response {
            self.gate.result(result);
            if !self.writes_structured_json
                && let Some(structured) = &mut result.structured_content
                && let Err(e) = crate::json::expand(structured)
            {
                tracing::error!(tool = %name, error = %e, "structuredContent does not parse");
                return Err(ErrorData::internal_error(
                    "internal error: could not encode the result",
                    None,
                ));
            }
            if result.is_error == Some(true) {
                tracing::info!(tool = %name, "tool call failed");
            }
        }
        Ok(response)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(self.resources.list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(self.resources.templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match self.resources.read(request.uri).await {
            Ok(mut result) => {
                self.gate.resource(&mut result);
                Ok(result.into())
            }
            Err(e) => Err(self.gate.error(e)),
        }
    }

    #[allow(deprecated)] // resources/subscribe is the legacy (pre-2026-07-28) path; listen is the new one
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.resources
            .subscribe(
                &self.subscriptions,
                request.uri,
                context.peer,
                self.stateless,
            )
            .await
            .map_err(|e| self.gate.error(e))
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.resources
            .unsubscribe(&self.subscriptions, &request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(self.resources.accepted_filter(requested))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.resources.listen(context).await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(self.prompts.1.clone()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let prompt = PromptContext::new(&self.prompts.2, request.name, request.arguments, context);
        match self.prompts.0.get_prompt(prompt).await {
            Ok(GetPromptResponse::Complete(mut result)) => {
                self.gate.prompt(&mut result);
                Ok(GetPromptResponse::Complete(result))
            }
            Ok(other) => Ok(other),
            Err(e) => Err(self.gate.error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use rmcp::service::Service;

    use super::*;

    /// The size of the future `S::handle_request` returns, from its type alone.
    #[allow(unreachable_code, unused_variables, clippy::diverging_sub_expression)]
    fn request_future_size<S: Service<RoleServer>>(_: fn(WhopServer) -> S) -> usize {
        fn size_of_output<F>(_: impl FnOnce() -> F) -> usize {
            std::mem::size_of::<F>()
        }
        size_of_output(|| {
            let service: &S = unreachable!();
            service.handle_request(unreachable!(), unreachable!())
        })
    }

    #[test]
    fn the_future_rmcp_spawns_per_request_is_a_box() {
        let size = request_future_size(WhopServer::into_service);
        assert!(size <= 2 * std::mem::size_of::<usize>(), "{size} bytes");
    }
}
