/**
 * The schema's validators, compiled by `npm run build` (scripts/build.ts) into
 * dist/validate/schema-validators.js with ajv's standalone code, so no start
 * compiles the schema again. package.json's "imports" maps the name to that file.
 */
import type { ValidateFunction } from "ajv";

export declare const NatGateway: ValidateFunction;
export declare const EgressNATPolicy: ValidateFunction;
