export { CachedTemplateSource } from "./cached-template-source.ts";
export { TemplateError, type TemplateErrorCode } from "./errors.ts";
export { goToHandlebars, isGoTemplate } from "./go-syntax.ts";
export type {
  InlineContent,
  RenderedEmail,
  TemplateDefinition,
  TemplateSource,
} from "./renderer.ts";
export { TemplateRenderer } from "./renderer.ts";
