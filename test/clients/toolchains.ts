import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { hasCommand } from "../outside-tools.ts";

/** Google's well-known types (struct, timestamp, any, duration) for protoc: Debian's libprotobuf-dev. */
export const WELL_KNOWN_TYPES = "/usr/include";
/** Debian's Go libraries, for a build in GOPATH mode with no network. */
export const DEBIAN_GOPATH = "/usr/share/gocode";
/** grpc_python_plugin (protobuf-compiler-grpc). */
export const GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin";
/** Debian's own Python, where python3-grpcio and python3-protobuf import (not a pyenv one on PATH). */
export const PYTHON = "/usr/bin/python3";

const hasProtoc = () =>
  hasCommand("protoc") && existsSync(`${WELL_KNOWN_TYPES}/google/protobuf/struct.proto`);

/** True when a Go client can be generated and built offline (scripts/test-prerequisites.sh lists the packages). */
export function hasGoGrpc(): boolean {
  return (
    hasProtoc() &&
    ["go", "protoc-gen-go", "protoc-gen-go-grpc"].every(hasCommand) &&
    [
      "google.golang.org/grpc/health/grpc_health_v1",
      "google.golang.org/genproto/googleapis/rpc/errdetails",
      "google.golang.org/protobuf/types/known/structpb",
      // golang-github-golang-protobuf-1-5-dev (registry.go is new in 1.4): with the 1.3 library
      // instead, the client builds but panics at run time
      "github.com/golang/protobuf/proto/registry.go",
    ].every((path) => existsSync(`${DEBIAN_GOPATH}/src/${path}`))
  );
}

/** True when a Python client can be generated and run with Debian's /usr/bin/python3. */
export function hasPythonGrpc(): boolean {
  if (!hasProtoc() || !existsSync(GRPC_PYTHON_PLUGIN)) return false;
  try {
    execFileSync(PYTHON, ["-c", "import grpc, google.protobuf"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
