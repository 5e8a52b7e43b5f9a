//! The OpenAPI description, generated from the same table that builds the router, so it
//! cannot list a route that does not exist or miss one that does.

use serde_json::{json, Map, Value};
use swarmlab_proto::API_VERSION;

/// One route as documented.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `get` or `post`.
    pub method: &'static str,
    /// The full path, e.g. `/api/v1/tracks/{track}`.
    pub path: &'static str,
    pub summary: &'static str,
    /// `none`, `public` (none where the hub's reads are public, else any), `any`, or the
    /// role required.
    pub auth: &'static str,
}

/// The OpenAPI 3.1 document for `routes`.
pub fn document(routes: &[RouteDoc]) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let (security, auth) = match r.auth {
            "none" => (json!([]), "none".to_string()),
            // An empty requirement makes the token optional.
            "public" => (
                json!([{}, {"bearer": []}]),
                "none where the hub's reads are public (`public_read`), else any identity; \
                 pending submissions only to their submitter, verifiers and admins"
                    .to_string(),
            ),
            other => (json!([{"bearer": []}]), other.to_string()),
        };
        let op = json!({
            "summary": r.summary,
            "description": format!("Authentication: {auth}."),
            "parameters": params,
            "security": security,
            "responses": {
                "200": {"description": "success"},
                "400": {"description": "bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "missing or unknown token"},
                "403": {"description": "wrong role"},
                "404": {"description": "not found"},
                "409": {"description": "conflict"},
                "413": {"description": "request too large"},
                "429": {"description": "rate limited, or over the submission quota"}
            }
        });
        if let Value::Object(map) = entry {
            map.insert(r.method.to_string(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "swarmlab hub", "version": API_VERSION},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}}
        }
    })
}
