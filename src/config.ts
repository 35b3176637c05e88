/** The daemon's configuration: see src/config/ (schema.ts is the table of variables). */
export * from "./config/index.js";
