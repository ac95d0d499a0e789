// A Go client of the email-worker gRPC API, generated from proto/ with protoc-gen-go and
// protoc-gen-go-grpc: it sends a tracked email, waits for it to be sent, sends a bad one and reads
// the google.rpc.BadRequest from the error, calls without a key, and checks grpc.health.v1. It
// prints one JSON line with what it saw and exits 1 when anything was not as expected.
//
//	EMAIL_WORKER_ADDRESS    host:port of the gRPC API (default localhost:50060)
//	EMAIL_WORKER_API_KEY    a key with the send scope (sent as `authorization: Bearer <key>`)
//	EMAIL_WORKER_RECIPIENT  where the tracked email goes (default go-client@example.org)
//	EMAIL_WORKER_DEADLINE   how long it may take altogether, in seconds (default 60)
//
// Written for the oldest toolchain it is tested with (Debian 12: Go 1.19, grpc-go 1.33), so it uses
// grpc.WithInsecure and DialContext rather than credentials/insecure and NewClient.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	emailworkerv1 "github.com/email-worker/email-worker/gen/go/emailworker/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// word is an enum value's name as the JSON wire format spells it: JOB_STATUS_SENT -> sent.
func word(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

type violation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

type invalidResult struct {
	Code       string      `json:"code"`
	Violations []violation `json:"violations"`
}

type result struct {
	Client              string         `json:"client"`
	OK                  bool           `json:"ok"`
	JobID               string         `json:"job_id,omitempty"`
	Tracked             bool           `json:"tracked"`
	Status              string         `json:"status,omitempty"`
	Polls               int            `json:"polls"`
	Events              []string       `json:"events,omitempty"`
	Invalid             *invalidResult `json:"invalid,omitempty"`
	UnauthenticatedCode string         `json:"unauthenticated_code,omitempty"`
	Health              string         `json:"health,omitempty"`
	Error               string         `json:"error,omitempty"`
}

// The canonical names of the status codes (as grpc.StatusCode names them in Python).
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
	codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

func codeName(err error) string {
	code := status.Code(err)
	if name, ok := codeNames[code]; ok {
		return name
	}
	return code.String()
}

func env(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func main() {
	out := &result{Client: "go"}
	if err := run(out); err != nil {
		out.Error = err.Error()
	} else {
		out.OK = true
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
	if !out.OK {
		os.Exit(1)
	}
}

func run(out *result) error {
	address := env("EMAIL_WORKER_ADDRESS", "localhost:50060")
	recipient := env("EMAIL_WORKER_RECIPIENT", "go-client@example.org")
	seconds, err := strconv.ParseFloat(env("EMAIL_WORKER_DEADLINE", "60"), 64)
	if err != nil || seconds <= 0 {
		return fmt.Errorf("EMAIL_WORKER_DEADLINE: not a number of seconds: %q", os.Getenv("EMAIL_WORKER_DEADLINE"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds*float64(time.Second)))
	defer cancel()

	conn, err := grpc.DialContext(ctx, address, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", address, err)
	}
	defer conn.Close()
	client := emailworkerv1.NewEmailWorkerServiceClient(conn)

	// The key goes with every call as metadata (README, gRPC API: Auth).
	authed := ctx
	if key := os.Getenv("EMAIL_WORKER_API_KEY"); key != "" {
		authed = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}

	// (a) A tracked email: recorded in PostgreSQL, so its status can be asked for.
	sent, err := client.SendEmail(authed, &emailworkerv1.SendEmailRequest{Job: &emailworkerv1.EmailJob{
		Type:           "client_check",
		RecipientEmail: recipient,
		Subject:        "Hello from Go",
		Text:           "Sent by test/clients/go.",
		Sender:         &emailworkerv1.Mailbox{Email: "go-client@shop.example", Name: "Go Client"},
		Tracked:        true,
	}})
	if err != nil {
		return fmt.Errorf("SendEmail: %w", err)
	}
	out.JobID, out.Tracked = sent.GetJobId(), sent.GetTracked()
	if !out.Tracked {
		return errors.New("SendEmail: the job was not tracked")
	}

	// (b) Its status until it is sent (or failed, or the deadline passes).
	for {
		out.Polls++
		got, err := client.GetEmailJob(authed, &emailworkerv1.GetEmailJobRequest{Id: out.JobID})
		if err != nil {
			return fmt.Errorf("GetEmailJob: %w", err)
		}
		job := got.GetJob()
		out.Status = word(job.GetStatus().String(), "JOB_STATUS_")
		out.Events = out.Events[:0]
		for _, event := range job.GetEvents() {
			out.Events = append(out.Events, word(event.GetStatus().String(), "EVENT_TYPE_"))
		}
		if job.GetStatus() == emailworkerv1.JobStatus_JOB_STATUS_SENT {
			break
		}
		switch job.GetStatus() {
		case emailworkerv1.JobStatus_JOB_STATUS_FAILED, emailworkerv1.JobStatus_JOB_STATUS_CANCELLED,
			emailworkerv1.JobStatus_JOB_STATUS_SUPPRESSED:
			return fmt.Errorf("GetEmailJob: the job ended %s: %s", out.Status, got.GetJob().GetErrorMessage())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GetEmailJob: still %s when the deadline passed", out.Status)
		case <-time.After(200 * time.Millisecond):
		}
	}

	// (c) A bad request: INVALID_ARGUMENT with a google.rpc.BadRequest in the status details.
	_, err = client.SendEmail(authed, &emailworkerv1.SendEmailRequest{Job: &emailworkerv1.EmailJob{
		Type:           "client_check",
		RecipientEmail: "not-an-address",
		Subject:        "Never sent",
		Text:           "Never sent.",
	}})
	if err == nil {
		return errors.New("SendEmail with a bad recipient: accepted")
	}
	invalid := &invalidResult{Code: codeName(err), Violations: []violation{}}
	out.Invalid = invalid
	if st, ok := status.FromError(err); ok {
		for _, detail := range st.Details() {
			if badRequest, ok := detail.(*errdetails.BadRequest); ok {
				for _, v := range badRequest.GetFieldViolations() {
					invalid.Violations = append(invalid.Violations, violation{v.GetField(), v.GetDescription()})
				}
			}
		}
	}
	if invalid.Code != "INVALID_ARGUMENT" || len(invalid.Violations) == 0 {
		return fmt.Errorf("SendEmail with a bad recipient: %v, %d field violations", err, len(invalid.Violations))
	}

	// No key: refused (when the service has keys at all).
	_, err = client.GetEmailJob(ctx, &emailworkerv1.GetEmailJobRequest{Id: out.JobID})
	out.UnauthenticatedCode = codeName(err)

	// (d) The standard health service, which needs no key.
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("grpc.health.v1.Health/Check: %w", err)
	}
	out.Health = health.GetStatus().String()
	if health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpc.health.v1.Health/Check: %s", out.Health)
	}
	return nil
}
