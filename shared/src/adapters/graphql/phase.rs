//! The extension every GraphQL request runs with: it marks when execution starts (errors before
//! it are validation errors) and gives failing fields graphql-js' null semantics, recording
//! what happened in the request's [`RunHandle`] for the transport to render.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
};
use async_graphql::{PathSegment, ServerError};

/// What happened while the request ran, kept by [`PhaseExtension`]: whether execution started
/// (errors before it are validation errors), the errors of nullable fields (which answer
/// `null`), and whether a non-null root field failed (which erases `data`, as in graphql-js).
#[derive(Default)]
pub(super) struct Run {
    pub(super) started: AtomicBool,
    pub(super) erase_data: AtomicBool,
    pub(super) errors: Mutex<Vec<ServerError>>,
}

#[derive(Default, Clone)]
pub(super) struct RunHandle(pub(super) Arc<Run>);

/// Marks the start of execution and gives failing fields graphql-js' null semantics
/// (installed by [`Limits::apply`]).
pub(crate) struct PhaseExtension;

impl ExtensionFactory for PhaseExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PhaseMarker)
    }
}

struct PhaseMarker;

fn path_of(node: &async_graphql::QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut segments: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|n| match n.segment {
            async_graphql::QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            async_graphql::QueryPathSegment::Index(i) => PathSegment::Index(i),
        })
        .collect();
    segments.reverse();
    segments
}

#[async_graphql::async_trait::async_trait]
impl Extension for PhaseMarker {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if let Some(run) = ctx.data_opt::<RunHandle>() {
            run.0.started.store(true, Ordering::SeqCst);
        }
        next.run(ctx, operation_name).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
        let path = path_of(info.path_node);
        let non_null = info.return_type.ends_with('!');
        let root = info.path_node.parent.is_none();
        match next.run(ctx, info).await {
            Ok(value) => Ok(value),
            Err(mut error) => {
                if error.path.is_empty() {
                    error.path = path;
                }
                let Some(run) = ctx.data_opt::<RunHandle>() else {
                    return Err(error);
                };
                if non_null {
                    if root {
                        run.0.erase_data.store(true, Ordering::SeqCst);
                    }
                    Err(error)
                } else {
                    run.0
                        .errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(error);
                    Ok(None)
                }
            }
        }
    }
}
