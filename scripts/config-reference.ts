// Prints the configuration table the README carries: `npm run config:reference`.
import { configReferenceMarkdown } from "../internal/config/reference.ts";

console.log(configReferenceMarkdown());
