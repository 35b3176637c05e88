export type {
  BackendKind,
  Config,
  ContainerConfig,
  CredentialsConfig,
  Env,
  GitHubSettings,
  HostFacts,
  NspawnConfig,
  RegistrationMode,
  RepositoryName,
  ScopeConfig,
  StatusSettings,
} from "./types.js";
export { CONFIG_SCHEMA } from "./schema.js";
export { loadConfig, loadStatusSettings, parseRepo, parseValue, readVariable } from "./parse.js";
export { showValue } from "./show-value.js";
export { variablesOf, type Variable } from "./variable.js";
export { describeScope, scopeName } from "./scope.js";
