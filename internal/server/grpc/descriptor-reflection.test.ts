import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { ServerReflectionRequest } from "../../gen/grpc/reflection/v1/reflection.ts";
import { DescriptorReflection } from "./descriptor-reflection.ts";
import { readDescriptorSet } from "./descriptor-set.ts";

const SERVICES = ["emailworker.v1.EmailWorkerService", "grpc.health.v1.Health"];
const reflection = new DescriptorReflection(readDescriptorSet(), SERVICES);
const ask = (request: Partial<ServerReflectionRequest>) => reflection.answer({ host: "", ...request });

/** The names of the files in a file_descriptor_response, in the order sent. */
const fileNames = (request: Partial<ServerReflectionRequest>) =>
  (ask(request).file_descriptor_response?.file_descriptor_proto ?? []).map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );

describe("DescriptorReflection", () => {
  it("lists the services served, reflection's own included", () => {
    expect(ask({ list_services: "" }).list_services_response?.service.map((s) => s.name)).toEqual([
      ...SERVICES,
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });

  it("answers a method's symbol with its file and every file it imports, enough to resolve its types", () => {
    const response = ask({ file_containing_symbol: "emailworker.v1.EmailWorkerService.SendEmail" });
    const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    expect(files.map((f) => f.name)).toEqual([
      "emailworker/v1/email_worker.proto",
      "google/protobuf/struct.proto",
      "google/protobuf/timestamp.proto",
    ]);
    // What a client does with the answer: build a registry from it alone and resolve the request type.
    const [main, ...dependencies] = files;
    if (!main) throw new Error("no file");
    const registry = createFileRegistry(main, (name) => dependencies.find((f) => f.name === name));
    const job = registry.getMessage("emailworker.v1.EmailJob");
    expect(job?.fields.find((f) => f.name === "template_data")?.message?.typeName).toBe(
      "google.protobuf.Struct",
    );
    expect(job?.fields.find((f) => f.name === "sender")?.number).toBe(10);
    expect(response.original_request?.file_containing_symbol).toBe(
      "emailworker.v1.EmailWorkerService.SendEmail",
    );
  });

  it("finds files by name and by any symbol: service, message, nested enum, field, enum value", () => {
    expect(fileNames({ file_by_filename: "google/rpc/status.proto" })).toEqual([
      "google/rpc/status.proto",
      "google/protobuf/any.proto",
    ]);
    for (const symbol of [
      "grpc.health.v1.Health",
      "grpc.health.v1.HealthCheckResponse.ServingStatus",
      "grpc.health.v1.HealthCheckRequest.service",
      "grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING",
    ])
      expect(fileNames({ file_containing_symbol: symbol }), symbol).toEqual(["grpc/health/v1/health.proto"]);
    expect(fileNames({ file_containing_symbol: "grpc.reflection.v1alpha.ServerReflection" })).toEqual([
      "grpc/reflection/v1alpha/reflection.proto",
    ]);
  });

  it("answers NOT_FOUND for unknown files, symbols and extensions, in the stream rather than ending it", () => {
    for (const request of [
      { file_by_filename: "email/v1/email_worker.proto" },
      { file_containing_symbol: "email.v1.EmailWorkerService" },
      { file_containing_symbol: "emailworker.v1.EmailWorkerService.NoSuchMethod" },
      { file_containing_extension: { containing_type: "emailworker.v1.EmailJob", extension_number: 100 } },
      { all_extension_numbers_of_type: "emailworker.v1.NoSuchType" },
    ])
      expect(ask(request).error_response?.error_code, JSON.stringify(request)).toBe(status.NOT_FOUND);
  });

  it("answers the extension numbers of a known type: none, since the API declares no extensions", () => {
    expect(ask({ all_extension_numbers_of_type: "emailworker.v1.EmailJob" })).toMatchObject({
      all_extension_numbers_response: { base_type_name: "emailworker.v1.EmailJob", extension_number: [] },
    });
  });

  it("answers INVALID_ARGUMENT to a request that asks for nothing", () => {
    expect(ask({}).error_response?.error_code).toBe(status.INVALID_ARGUMENT);
  });

  it("refuses to start when the descriptor set lacks a service the server serves (a stale set)", () => {
    expect(() => new DescriptorReflection(readDescriptorSet(), ["email.v1.EmailWorkerService"])).toThrow(
      /does not describe email\.v1\.EmailWorkerService/,
    );
  });
});
