import {
  createFileRegistry,
  type DescFile,
  type FileRegistry,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { type handleBidiStreamingCall, type Server, status } from "@grpc/grpc-js";
import {
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionService as ServerReflectionV1,
} from "../../gen/grpc/reflection/v1/reflection.ts";
import { ServerReflectionService as ServerReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection.ts";

const REFLECTION_SERVICES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

/**
 * gRPC server reflection (grpc.reflection.v1 and the v1alpha that older clients still ask for)
 * answered from the real FileDescriptorSet built from proto/, so that a client can describe every
 * method and every type it uses, imports included, without the .proto files.
 *
 * @grpc/reflection is not used: it rebuilds descriptors from @grpc/proto-loader's definitions, and
 * those come back with made-up file names and no dependencies, so describing a method failed.
 */
export class DescriptorReflection {
  readonly #registry: FileRegistry;
  readonly #services: readonly string[];
  /** Each file's FileDescriptorProto, serialized once: reflection sends them as opaque bytes. */
  readonly #encoded = new Map<string, Buffer>();

  /** `services`: the names the server serves besides reflection itself, each described in the set. */
  constructor(descriptorSet: Uint8Array, services: readonly string[]) {
    const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
    this.#registry = createFileRegistry(set);
    for (const file of set.file)
      this.#encoded.set(file.name, Buffer.from(toBinary(FileDescriptorProtoSchema, file)));
    const all = [...services, ...REFLECTION_SERVICES];
    const missing = all.filter((name) => this.#registry.getService(name) === undefined);
    // A stale descriptor set would describe a different API than the one served: refuse to start.
    if (missing.length > 0)
      throw new Error(`the descriptor set does not describe ${missing.join(", ")}; run npm run proto`);
    this.#services = all;
  }

  addToServer(server: Server): void {
    const info: handleBidiStreamingCall<ServerReflectionRequest, ServerReflectionResponse> = (call) => {
      call.on("data", (request: ServerReflectionRequest) => call.write(this.answer(request)));
      call.on("end", () => call.end());
    };
    server.addService(ServerReflectionV1, { serverReflectionInfo: info });
    // v1alpha's messages are v1's under another package name: the same answers serve both.
    server.addService(ServerReflectionV1alpha, { serverReflectionInfo: info });
  }

  /** The answer to one request of a ServerReflectionInfo stream. */
  answer(request: ServerReflectionRequest): ServerReflectionResponse {
    const reply = (body: Partial<ServerReflectionResponse>): ServerReflectionResponse => ({
      valid_host: request.host,
      original_request: request,
      ...body,
    });
    const notFound = (what: string) =>
      reply({ error_response: { error_code: status.NOT_FOUND, error_message: `${what} not found` } });
    const files = (file: DescFile | undefined, what: string) =>
      file
        ? reply({ file_descriptor_response: { file_descriptor_proto: this.#withDependencies(file) } })
        : notFound(what);

    if (request.list_services !== undefined)
      return reply({ list_services_response: { service: this.#services.map((name) => ({ name })) } });
    if (request.file_by_filename !== undefined)
      return files(this.#registry.getFile(request.file_by_filename), `file ${request.file_by_filename}`);
    if (request.file_containing_symbol !== undefined)
      return files(
        this.#fileDeclaring(request.file_containing_symbol),
        `symbol ${request.file_containing_symbol}`,
      );
    if (request.file_containing_extension !== undefined) {
      const { containing_type, extension_number } = request.file_containing_extension;
      const extendee = this.#registry.getMessage(containing_type);
      const extension = extendee && this.#registry.getExtensionFor(extendee, extension_number);
      return files(extension?.file, `extension ${extension_number} of ${containing_type}`);
    }
    if (request.all_extension_numbers_of_type !== undefined) {
      const name = request.all_extension_numbers_of_type;
      if (this.#registry.getMessage(name) === undefined) return notFound(`type ${name}`);
      const numbers = [...this.#registry].flatMap((d) =>
        d.kind === "extension" && d.extendee.typeName === name ? [d.number] : [],
      );
      return reply({ all_extension_numbers_response: { base_type_name: name, extension_number: numbers } });
    }
    return reply({
      error_response: { error_code: status.INVALID_ARGUMENT, error_message: "the request asks for nothing" },
    });
  }

  /** The file declaring a type, service or extension, or a method, field or enum value of one. */
  #fileDeclaring(symbol: string): DescFile | undefined {
    const type = this.#registry.get(symbol);
    if (type) return type.file;
    const dot = symbol.lastIndexOf(".");
    const parent = this.#registry.get(symbol.slice(0, dot));
    const member = symbol.slice(dot + 1);
    if (dot < 0 || !parent) return undefined;
    const members: readonly { name: string }[] =
      parent.kind === "service"
        ? parent.methods
        : parent.kind === "message"
          ? [...parent.fields, ...parent.oneofs]
          : parent.kind === "enum"
            ? parent.values
            : [];
    return members.some((m) => m.name === member) ? parent.file : undefined;
  }

  /** The file first, then everything it imports, transitively, each once. */
  #withDependencies(file: DescFile): Buffer[] {
    const seen = new Set<string>();
    const out: Buffer[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      const bytes = this.#encoded.get(f.proto.name);
      if (bytes) out.push(bytes);
      for (const dependency of f.dependencies) visit(dependency);
    };
    visit(file);
    return out;
  }
}
