/**
 * @module
 * The registry app: dependencies into `c.var`, routes mounted by concern, one error handler.
 */

import { Hono } from "hono";
import { buildDeps, type AppEnv, type StoreFactories } from "./context.js";
import { errorBody, handleError } from "./errors.js";
import { adminRoutes } from "./routes/admin.js";
import { identityRoutes } from "./routes/identity.js";
import { npmRoutes } from "./routes/npm.js";
import { API_PREFIX, packageRoutes } from "./routes/packages.js";

export function createApp(factories: StoreFactories = {}) {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("deps", buildDeps(c.env, factories));
    await next();
  });
  app.route("/", identityRoutes);
  app.route("/-/countersign/v1/admin", adminRoutes);
  app.route(API_PREFIX, packageRoutes);
  app.route("/", npmRoutes); // last: its /<name> routes take any single segment
  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}`), 404));
  app.onError(handleError);
  return app;
}
