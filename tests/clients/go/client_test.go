// Calls the real servers from Go through code generated from the protos
// (protoc-gen-go and protoc-gen-go-grpc) with Debian's grpc-go and
// google.golang.org/protobuf, the way a Go application would.
//
// Run by CTest (test `go_client`) through run_test.sh, which generates the
// code into build/gen-go and sets:
//
//	CSTOPA_<SERVICE>_SERVER  path of each server binary (MEMBERSHIP,
//	                         LEGISLATION, EVENTS, MONITORING, GATEWAY)
//
// Each server runs on a free loopback port (--listen=127.0.0.1:0, the port
// read from --port_file) with an in-memory SQLite store, seeded; the gateway
// runs in front of its own four. Every server is stopped when the tests end.
package goclient

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	eventsv1 "cstopa.org/api/cstopa/events/v1"
	gatewayv1 "cstopa.org/api/cstopa/gateway/v1"
	legislationv1 "cstopa.org/api/cstopa/legislation/v1"
	membershipv1 "cstopa.org/api/cstopa/membership/v1"
	monitoringv1 "cstopa.org/api/cstopa/monitoring/v1"
	typev1 "cstopa.org/api/cstopa/type/v1"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	rpcTimeout   = 10 * time.Second
	startTimeout = 30 * time.Second
)

// The generated packages of every service, so that all are compiled and
// registered even where a test does not call them.
var _ = []interface{}{eventsv1.NewEventsServiceClient,
	monitoringv1.NewMonitoringServiceClient}

var portRe = regexp.MustCompile(`"grpc_port":(\d+)`)

// server is one running server binary.
type server struct {
	name   string
	cmd    *exec.Cmd
	target string
	log    string
}

// startServer starts bin on a free loopback port and returns once it serves.
// The server is stopped (SIGTERM, then SIGKILL) when the test ends.
func startServer(t *testing.T, name, bin string, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	portFile := filepath.Join(dir, name+".ports")
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"--listen=127.0.0.1:0", "--admin_listen=",
		"--port_file=" + portFile, "--access_log=off"}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", name, out)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited before serving: %s", name, out)
		default:
		}
		if b, err := os.ReadFile(portFile); err == nil {
			if m := portRe.FindSubmatch(b); m != nil {
				return &server{name: name, cmd: cmd,
					target: "127.0.0.1:" + string(m[1]), log: logPath}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not start within %v: %s", name, startTimeout, out)
	return nil
}

// serverBin is $CSTOPA_<SERVICE>_SERVER; the test fails when it is unset
// (CTest sets them all).
func serverBin(t *testing.T, service string) string {
	t.Helper()
	v := os.Getenv("CSTOPA_" + strings.ToUpper(service) + "_SERVER")
	if v == "" {
		t.Fatalf("CSTOPA_%s_SERVER is not set", strings.ToUpper(service))
	}
	return v
}

func dial(t *testing.T, target string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.Dial(target, grpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	t.Cleanup(cancel)
	return c
}

// text is the text of texts in lang.
func text(texts []*typev1.LocalizedText, lang string) string {
	for _, x := range texts {
		if x.GetLanguageCode() == lang {
			return x.GetText()
		}
	}
	return ""
}

func TestMembership(t *testing.T) {
	srv := startServer(t, "membership", serverBin(t, "membership"),
		"--store=sqlite::memory:")
	client := membershipv1.NewMembershipServiceClient(dial(t, srv.target))

	t.Run("GetState reads a seeded state with its status", func(t *testing.T) {
		kz, err := client.GetState(ctx(t),
			&membershipv1.GetStateRequest{Name: "states/kz"})
		if err != nil {
			t.Fatal(err)
		}
		if kz.GetName() != "states/kz" {
			t.Errorf("name = %q", kz.GetName())
		}
		if got := text(kz.GetDisplayName(), "en"); got != "Kazakhstan" {
			t.Errorf("English display name = %q", got)
		}
		if kz.GetCurrentStatus() != membershipv1.MembershipStatus_MEMBERSHIP_STATUS_MEMBER {
			t.Errorf("current_status = %v", kz.GetCurrentStatus())
		}
		if len(kz.GetProvenance()) == 0 || kz.GetEtag() == "" ||
			kz.GetCreateTime() == nil {
			t.Errorf("no provenance, etag or create_time: %v", kz)
		}
	})

	t.Run("ListStates pages through every state once", func(t *testing.T) {
		seen := map[string]bool{}
		token, pages := "", 0
		for {
			page, err := client.ListStates(ctx(t), &membershipv1.ListStatesRequest{
				PageSize: 4, PageToken: token,
				AsOf: &date.Date{Year: 2024, Month: 6, Day: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.GetStates()) > 4 {
				t.Fatalf("page of %d states, asked for 4", len(page.GetStates()))
			}
			for _, s := range page.GetStates() {
				if seen[s.GetName()] {
					t.Errorf("%s twice", s.GetName())
				}
				seen[s.GetName()] = true
			}
			pages++
			token = page.GetNextPageToken()
			if token == "" || pages > 10 {
				break
			}
		}
		if pages != 2 || len(seen) != 6 || !seen["states/kg"] {
			t.Errorf("%d pages, states %v; want 2 pages of the 6 seeded", pages, seen)
		}
	})

	t.Run("an unknown state is NOT_FOUND with ErrorInfo and ResourceInfo",
		func(t *testing.T) {
			_, err := client.GetState(ctx(t),
				&membershipv1.GetStateRequest{Name: "states/no-such-state"})
			st := status.Convert(err)
			if st.Code() != codes.NotFound {
				t.Fatalf("code = %v (%v), want NOT_FOUND", st.Code(), err)
			}
			var info *errdetails.ErrorInfo
			var resource *errdetails.ResourceInfo
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.ResourceInfo:
					resource = d
				case error:
					t.Errorf("a detail does not decode: %v", d)
				}
			}
			if info == nil || info.GetReason() != "RESOURCE_NOT_FOUND" ||
				info.GetDomain() == "" {
				t.Errorf("ErrorInfo = %v, want reason RESOURCE_NOT_FOUND and a domain", info)
			}
			if resource == nil ||
				resource.GetResourceName() != "states/no-such-state" ||
				resource.GetResourceType() != "cstopa.org/State" {
				t.Errorf("ResourceInfo = %v, want states/no-such-state of cstopa.org/State",
					resource)
			}
		})
}

func TestGateway(t *testing.T) {
	var targets []string
	for _, svc := range []string{"membership", "legislation", "events", "monitoring"} {
		s := startServer(t, "gateway-"+svc, serverBin(t, svc), "--store=sqlite::memory:")
		targets = append(targets, fmt.Sprintf("--%s_target=ipv4:%s", svc, s.target))
	}
	gw := startServer(t, "gateway", serverBin(t, "gateway"), targets...)
	client := gatewayv1.NewGatewayServiceClient(dial(t, gw.target))

	profile := func(t *testing.T, name string, y, m, d int32) *gatewayv1.StateProfile {
		t.Helper()
		p, err := client.GetStateProfile(ctx(t), &gatewayv1.GetStateProfileRequest{
			Name: name, AsOf: &date.Date{Year: y, Month: m, Day: d}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"membership", "legislation", "events", "missions", "operations"}
		var got []string
		for _, s := range p.GetSections() {
			got = append(got, s.GetSection())
			if !s.GetComplete() {
				t.Errorf("section %s (%s) incomplete: %v", s.GetSection(),
					s.GetService(), s.GetStatus())
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("sections %v, want %v", got, want)
		}
		return p
	}

	t.Run("GetStateProfile has the seats on the date", func(t *testing.T) {
		before := profile(t, "states/kg/profile", 2022, 6, 1)
		// Between the source giving 6 seats (2022) and the one giving 7.
		between := profile(t, "states/kg/profile", 2023, 6, 1)
		after := profile(t, "states/kg/profile", 2025, 6, 1)
		for _, p := range []*gatewayv1.StateProfile{before, between, after} {
			if p.GetName() != "states/kg/profile" || p.GetState().GetName() != "states/kg" {
				t.Errorf("profile %q of state %q", p.GetName(), p.GetState().GetName())
			}
			if len(p.GetDelegations()) != 1 {
				t.Fatalf("%d delegations, want 1", len(p.GetDelegations()))
			}
		}
		d := before.GetAsOfDate()
		if d.GetYear() != 2022 || d.GetMonth() != 6 || d.GetDay() != 1 {
			t.Errorf("as_of_date = %v", d)
		}
		known := typev1.AsOfKnowledge_AS_OF_KNOWLEDGE_KNOWN
		notKnown := typev1.AsOfKnowledge_AS_OF_KNOWLEDGE_NOT_KNOWN
		if del := before.GetDelegations()[0]; del.GetTotalSeats() != 6 ||
			del.GetSeatsKnowledge() != known {
			t.Errorf("seats on 2022-06-01 = %d (%v), want 6 (KNOWN)",
				del.GetTotalSeats(), del.GetSeatsKnowledge())
		}
		if del := after.GetDelegations()[0]; del.GetTotalSeats() != 7 ||
			del.GetSeatsKnowledge() != known {
			t.Errorf("seats on 2025-06-01 = %d (%v), want 7 (KNOWN)",
				del.GetTotalSeats(), del.GetSeatsKnowledge())
		}
		// Not known on 2023-06-01: no seats counted, and it says so.
		if del := between.GetDelegations()[0]; del.GetTotalSeats() != 0 ||
			del.GetSeatsKnowledge() != notKnown {
			t.Errorf("seats on 2023-06-01 = %d (%v), want 0 (NOT_KNOWN)",
				del.GetTotalSeats(), del.GetSeatsKnowledge())
		}
	})

	t.Run("GetStateProfile has the treaty's ratification", func(t *testing.T) {
		kz := profile(t, "states/kz/profile", 2024, 6, 1)
		const treaty = "treaties/jurisdiction-temporary-deployment-2021"
		var found *legislationv1.TreatyParticipation
		for _, tp := range kz.GetTreaties() {
			if tp.GetTreaty() == treaty {
				found = tp
			}
		}
		if found == nil {
			t.Fatalf("no %s in %v", treaty, kz.GetTreaties())
		}
		if found.GetParty().GetStatus() !=
			legislationv1.RatificationStatus_RATIFICATION_STATUS_BILL_INTRODUCED {
			t.Errorf("party status = %v", found.GetParty().GetStatus())
		}
		if !strings.Contains(text(found.GetTitle(), "en"), "Jurisdiction") {
			t.Errorf("title = %v", found.GetTitle())
		}
	})

	t.Run("an unknown person's profile is NOT_FOUND with details", func(t *testing.T) {
		_, err := client.GetPersonProfile(ctx(t),
			&gatewayv1.GetPersonProfileRequest{Name: "persons/nobody/profile"})
		st := status.Convert(err)
		if st.Code() != codes.NotFound {
			t.Fatalf("code = %v (%v), want NOT_FOUND", st.Code(), err)
		}
		var reasons []string
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				reasons = append(reasons, d.GetReason())
			case error:
				t.Errorf("a detail does not decode: %v", d)
			}
		}
		if strings.Join(reasons, ",") != "RESOURCE_NOT_FOUND" {
			t.Errorf("ErrorInfo reasons %v, want [RESOURCE_NOT_FOUND]", reasons)
		}
	})
}
