// Command registrar registers a CSI driver with the kubelet's plugin
// watcher: a minimal stand-in for node-driver-registrar (which the Go module
// proxy does not serve), run as a host process by the node tests.
//
// Usage: registrar DRIVER_NAME CSI_ENDPOINT REGISTRATION_SOCKET
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	regapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type server struct {
	regapi.UnimplementedRegistrationServer
	name, endpoint string
}

func (s *server) GetInfo(context.Context, *regapi.InfoRequest) (*regapi.PluginInfo, error) {
	return &regapi.PluginInfo{Type: regapi.CSIPlugin, Name: s.name, Endpoint: s.endpoint, SupportedVersions: []string{"1.0.0"}}, nil
}

func (s *server) NotifyRegistrationStatus(_ context.Context, st *regapi.RegistrationStatus) (*regapi.RegistrationStatusResponse, error) {
	log.Printf("registration of %s: registered=%v error=%q", s.name, st.PluginRegistered, st.Error)
	return &regapi.RegistrationStatusResponse{}, nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: registrar DRIVER_NAME CSI_ENDPOINT REGISTRATION_SOCKET")
		os.Exit(2)
	}
	name, endpoint, sock := os.Args[1], os.Args[2], os.Args[3]
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatalf("listen on %s: %v", sock, err)
	}
	g := grpc.NewServer()
	regapi.RegisterRegistrationServer(g, &server{name: name, endpoint: endpoint})
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		<-c
		g.Stop()
	}()
	log.Printf("serving the registration of %s on %s", name, sock)
	if err := g.Serve(l); err != nil {
		log.Printf("serve: %v", err)
	}
	_ = os.Remove(sock)
}
