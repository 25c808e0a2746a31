// The environment without the npm_config_* / npm_package_* / npm_lifecycle_* variables an outer
// `npm run` exports: they would override the configuration of the npm (or Node) run inside.
export const cleanEnv = (env = process.env) => Object.fromEntries(Object.entries(env).filter(([key]) => !/^npm_(config|package|lifecycle)_/i.test(key)));
