//! Node binding of veilid-core: start a node from a JSON config, pass veilid-remote-api
//! JSON requests through, deliver every `VeilidUpdate` as JSON to a JavaScript callback.
//! Types and logic live in the TypeScript facade; this side stays thin.

#![deny(clippy::all)]

mod lock;

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use veilid_remote_api::{
  ApiResultWithVecU8, JsonRequestProcessor, Request, RequestOp, ResponseOp, RoutingContextRequest,
  RoutingContextRequestOp, RoutingContextResponseOp,
};

/// One update: its JSON and, for `AppCall` and `AppMessage`, the message's bytes (the JSON's
/// `message` is then empty), so bulk data crosses as a Buffer rather than base64 text.
type UpdateArgs = FnArgs<(String, Option<Buffer>)>;

/// `(updateJson: string, message?: Buffer) => void`, called on the JS thread. Not "callee
/// handled": the callback receives the values only.
type UpdateFn = ThreadsafeFunction<UpdateArgs, (), UpdateArgs, Status, false>;

/// A response whose bytes travel beside its JSON: see `VeilidNode::request_bytes`.
#[napi(object)]
pub struct BytesResponse {
  /// The Response JSON; an `AppCall` answer's `value` is empty here.
  pub json: String,
  /// An `AppCall` answer's bytes.
  pub message: Option<Buffer>,
}

/// An update's JSON with an `AppCall`'s or `AppMessage`'s bytes split off.
fn split_update(update: &veilid_core::VeilidUpdate) -> serde_json::Result<(String, Option<Buffer>)> {
  let text = |id: Option<String>| id.map_or(serde_json::Value::Null, serde_json::Value::String);
  match update {
    veilid_core::VeilidUpdate::AppCall(call) => {
      let json = serde_json::json!({
        "kind": "AppCall",
        "sender": text(call.sender().map(ToString::to_string)),
        "route_id": text(call.route_id().map(ToString::to_string)),
        "call_id": call.id().to_string(),
        "message": "",
      });
      Ok((json.to_string(), Some(call.message().to_vec().into())))
    }
    veilid_core::VeilidUpdate::AppMessage(message) => {
      let json = serde_json::json!({
        "kind": "AppMessage",
        "sender": text(message.sender().map(ToString::to_string)),
        "route_id": text(message.route_id().map(ToString::to_string)),
        "message": "",
      });
      Ok((json.to_string(), Some(message.message().to_vec().into())))
    }
    other => Ok((serde_json::to_string(other)?, None)),
  }
}

/// The `message` field of a request that carries one (`AppCall`, `AppMessage` on a routing
/// context, `AppCallReply`).
fn message_of(op: &mut RequestOp) -> Option<&mut Vec<u8>> {
  match op {
    RequestOp::RoutingContext(RoutingContextRequest {
      rc_op:
        RoutingContextRequestOp::AppCall { message, .. }
        | RoutingContextRequestOp::AppMessage { message, .. },
      ..
    })
    | RequestOp::AppCallReply { message, .. } => Some(message),
    _ => None,
  }
}

/// Longest wait for veilid-core's own shutdown. It normally takes well under a second;
/// past this the promise rejects instead of hanging the caller.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);

/// veilid-core's default `VeilidConfig` as JSON (snake_case keys). Its `internal` section
/// is filled with veilid-core's defaults rather than `null`, so that callers can patch
/// single tuning values (honoured: this build enables veilid-core's `footgun-config`).
#[napi]
pub fn default_config() -> Result<String> {
  let config = veilid_core::VeilidConfig {
    internal: Some(veilid_core::VeilidConfigInternal::default()),
    ..Default::default()
  };
  serde_json::to_string(&config).map_err(generic_error)
}

/// veilid-core's version, e.g. `0.5.8`.
#[napi]
pub fn veilid_version() -> String {
  veilid_core::veilid_version_string()
}

/// The process's one tracing subscriber, installed by the first `enableLogging` call.
static TRACING: std::sync::OnceLock<veilid_core::VeilidTracing> = std::sync::OnceLock::new();

/// Opt-in log forwarding: veilid-core's logs arrive as `Log` updates at every running
/// node's callback, filtered by veilid log directives, e.g. `"#common=info"` or
/// `"#common=debug,rpc_message=debug"`. The first call installs the process's single
/// global tracing subscriber (it fails if another one is installed); later calls only
/// apply further directives.
#[napi]
pub fn enable_logging(directives: String) -> Result<()> {
  let invalid = |e: veilid_core::VeilidAPIError| Error::new(Status::InvalidArg, e.to_string());
  if let Some(tracing) = TRACING.get() {
    return tracing.try_apply_directives_string(directives).map_err(invalid);
  }
  let list: Vec<&str> = directives
    .split(',')
    .map(str::trim)
    .filter(|d| !d.is_empty())
    .collect();
  let output = veilid_core::LogOutput::api()
    .try_with_directives(list)
    .map_err(invalid)?;
  let tracing = veilid_core::VeilidTracing::try_init([output]).map_err(generic_error)?;
  // napi calls this on the JS thread only, so no other call can have set it meanwhile.
  let _ = TRACING.set(tracing);
  Ok(())
}

/// One running veilid-core node.
#[napi]
pub struct VeilidNode {
  processor: Arc<std::sync::RwLock<JsonRequestProcessor>>,
  /// `Some` until shutdown. An async mutex, so a second `shutdown()` waits for the first.
  api: Arc<tokio::sync::Mutex<Option<veilid_core::VeilidAPI>>>,
  /// The update callback. Taking it out drops (releases) the threadsafe function, after
  /// which it no longer keeps the Node event loop alive.
  updates: Arc<std::sync::Mutex<Option<UpdateFn>>>,
}

fn generic_error(message: impl std::fmt::Display) -> Error {
  Error::new(Status::GenericFailure, message.to_string())
}

#[napi]
impl VeilidNode {
  /// Start veilid-core from a full config JSON; every VeilidUpdate is delivered as a JSON
  /// string. Rejects with the `VeilidAPIError` JSON as message when startup fails.
  ///
  /// The running node keeps the Node process alive until `shutdown()` resolves.
  #[napi]
  pub async fn start(
    config_json: String,
    #[napi(ts_arg_type = "(updateJson: string, message?: Buffer | null) => void")]
    on_update: UpdateFn,
  ) -> Result<VeilidNode> {
    let updates = Arc::new(std::sync::Mutex::new(Some(on_update)));
    let callback_updates = updates.clone();
    let update_callback: veilid_core::UpdateCallback = Arc::new(move |update| {
      let Ok(args) = split_update(&update) else {
        return;
      };
      if let Ok(guard) = callback_updates.lock() {
        if let Some(tsfn) = guard.as_ref() {
          // The queue is unbounded, so NonBlocking never drops an update.
          tsfn.call(args.into(), ThreadsafeFunctionCallMode::NonBlocking);
        }
      }
    });

    let api = match veilid_core::api_startup_json(update_callback, config_json).await {
      Ok(api) => api,
      Err(e) => {
        if let Ok(mut guard) = updates.lock() {
          guard.take();
        }
        let message = serde_json::to_string(&e).unwrap_or_else(|_| e.to_string());
        return Err(generic_error(message));
      }
    };
    let processor = JsonRequestProcessor::new(api.clone());
    Ok(VeilidNode {
      processor: Arc::new(std::sync::RwLock::new(processor)),
      api: Arc::new(tokio::sync::Mutex::new(Some(api))),
      updates,
    })
  }

  /// veilid-remote-api Request JSON in, Response JSON out (JsonRequestProcessor).
  /// Veilid errors come back inside the Response (`{"error": {...}}`); the promise rejects
  /// only when the request is not valid Request JSON.
  #[napi]
  pub async fn request(&self, request_json: String) -> Result<String> {
    let request: Request = serde_json::from_str(&request_json)
      .map_err(|e| Error::new(Status::InvalidArg, format!("invalid veilid request: {e}")))?;
    let processor = self
      .processor
      .read()
      .map_err(|_| generic_error("request processor lock poisoned"))?
      .clone();
    let response = processor.process_request(request).await;
    serde_json::to_string(&response).map_err(generic_error)
  }

  /// `request` for the ops that carry bytes (`AppCall`, `AppMessage`, `AppCallReply`): the
  /// request JSON's `message` is empty and `message` holds the bytes; an `AppCall` answer's
  /// bytes come back beside the Response JSON. No base64 on either side: on the private
  /// path every 32 KiB frame crosses here.
  #[napi]
  pub async fn request_bytes(&self, request_json: String, message: Buffer) -> Result<BytesResponse> {
    let mut request: Request = serde_json::from_str(&request_json)
      .map_err(|e| Error::new(Status::InvalidArg, format!("invalid veilid request: {e}")))?;
    let Some(slot) = message_of(&mut request.op) else {
      return Err(Error::new(
        Status::InvalidArg,
        "invalid veilid request: this op carries no message",
      ));
    };
    *slot = message.to_vec();
    drop(message);
    let processor = self
      .processor
      .read()
      .map_err(|_| generic_error("request processor lock poisoned"))?
      .clone();
    let mut response = processor.process_request(request).await;
    let answer = match &mut response.op {
      ResponseOp::RoutingContext(rc) => match &mut rc.rc_op {
        RoutingContextResponseOp::AppCall {
          result: ApiResultWithVecU8::Ok { value },
        } => Some(std::mem::take(value).into()),
        _ => None,
      },
      _ => None,
    };
    Ok(BytesResponse {
      json: serde_json::to_string(&response).map_err(generic_error)?,
      message: answer,
    })
  }

  /// Detach and shut down; resolves when veilid-core has fully stopped; idempotent.
  #[napi]
  pub async fn shutdown(&self) -> Result<()> {
    let mut slot = self.api.lock().await;
    let result = match slot.take() {
      None => Ok(()),
      Some(api) => {
        // Handles held by the request processor (routing contexts, table dbs) go first.
        if let Ok(mut processor) = self.processor.write() {
          *processor = JsonRequestProcessor::new(api.clone());
        }
        let stop = async {
          // Detach errors only mean "not attached"; shutdown detaches anyway.
          let _ = api.detach().await;
          api.shutdown().await;
        };
        tokio::time::timeout(SHUTDOWN_TIMEOUT, stop)
          .await
          .map_err(|_| generic_error("veilid-core did not shut down within 60 s"))
      }
    };
    if let Ok(mut guard) = self.updates.lock() {
      guard.take();
    }
    result
  }
}
