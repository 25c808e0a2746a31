/**
 * @module
 * The registry app: dependencies into `c.var`, routes mounted by concern, one error handler.
 */

import { Hono } from "hono";
import { buildDeps, type AppEnv, type StoreFactories } from "./context.js";
import { drainUnreadBody } from "./drain.js";
import { recentPackuments } from "./hot-cache.js";
import { errorBody, errorStyleFor, handleError, npmErrorBody } from "./errors.js";
import { adminRoutes } from "./routes/admin.js";
import { identityRoutes } from "./routes/identity.js";
import { logRoutes } from "./routes/log.js";
import { npmTokenRoutes } from "./npm/tokens.js";
import { refuseUnsupported } from "./npm/unsupported.js";
import { npmRoutes } from "./routes/npm.js";
import { API_PREFIX, packageRoutes } from "./routes/packages.js";
import { stagingRoutes } from "./routes/staging.js";
import { webRoutes } from "../web/routes.js";

export function createApp(factories: StoreFactories = {}) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("deps", buildDeps(c.env, factories));
    await next();
    // Whatever the answer (errors included), a body nobody read is consumed before it goes out.
    await drainUnreadBody(c.req.raw);
    // A write this isolate accepted may change any packument: forget the ones it just served.
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 400) recentPackuments.clear();
  });
  app.use(refuseUnsupported); // npm routes we do not serve: a one-line reason (npm/unsupported.ts)
  app.route("/", webRoutes); // browsers only (Accept: text/html); anything else falls through
  app.route("/", identityRoutes);
  app.route("/", logRoutes);
  app.route("/-/countersign/v1/admin", adminRoutes);
  app.route(API_PREFIX, stagingRoutes); // staged publishing and its admin setting (routes/staging.ts)
  app.route(API_PREFIX, packageRoutes);
  app.route("/", npmTokenRoutes);
  app.route("/", npmRoutes); // last: its /<name> routes take any single segment
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const body = errorStyleFor(path) === "npm" ? npmErrorBody : errorBody;
    return c.json(body("not_found", `no route for ${c.req.method} ${path.slice(0, 200)} on this countersign registry`), 404);
  });
  app.onError((err, c) => handleError(err, c));
  return app;
}
