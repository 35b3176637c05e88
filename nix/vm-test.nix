# NixOS VM test: a host running services.runner-controller against the GitHub simulator.
#
#   nix build .#checks.x86_64-linux.vm        (needs KVM; it cannot run on a machine without NixOS tooling)
#   nix build .#checks.x86_64-linux.vm.driverInteractive && ./result/bin/nixos-test-driver
#
# What it verifies on a real NixOS host, end to end:
#   1. The module evaluates; the job containers' system is built with the host; the daemon starts
#      with nixos-container, systemctl, ip and chattr on its PATH, and /health answers.
#   2. A queued job makes the daemon create a container `jNNNNNNN` with nixos-container
#      (--system-path, its own 192.168.N.0/24), write the .nspawn file and the set-property
#      drop-ins (the limits show on the running unit), and start it.
#   3. Inside, the template's runner service takes the registration the daemon wrote into the
#      root (and deletes it), and runs the simulator's sim-runner (standing in for the official
#      runner, which only talks to github.com) as the unprivileged runner user; the runner reaches
#      the simulator through the container's veth and routing, and the job succeeds.
#   4. Restarting the daemon leaves the job's container running (KillMode=process; containers
#      are units of their own), and the new daemon adopts it.
#   5. After its one job the guest powers off; the daemon notices and tears the container down:
#      no conf, no root, no .nspawn file, no drop-ins, no ve- link, no dangling journal link, no
#      failed unit left behind, and the runner registration is gone from the simulator.
{ self }:
{ lib, ... }:
let
  simPort = 8090;
  repo = "octo-org/octo-repo";
in
{
  name = "runner-controller";

  nodes.host =
    { config, pkgs, ... }:
    let
      package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      # The simulator must listen on an address the containers can reach: the JIT configs it
      # hands out carry its URL, and 127.0.0.1 or 0.0.0.0 would point the runner at itself.
      simUrl = "http://${config.networking.primaryIPAddress}:${toString simPort}";
    in
    {
      imports = [ self.nixosModules.default ];

      virtualisation = {
        memorySize = 4096;
        cores = 2;
        diskSize = 8192;
        writableStore = true;
      };
      # Everything the containers run is in the host's closure already (the container system is
      # referenced by the service), so no substituter is needed.
      nix.settings.substituters = lib.mkForce [ ];

      networking.firewall.allowedTCPPorts = [ simPort ];
      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
      ];

      # A test token for the simulator. A real host keeps its token out of the Nix store.
      environment.etc."runner-controller/token".text = "sim-token";

      systemd.services.github-simulator = {
        description = "GitHub simulator for the VM test";
        wantedBy = [ "multi-user.target" ];
        before = [ "runner-controller.service" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
        serviceConfig.ExecStart = lib.escapeShellArgs [
          "${package}/bin/runner-controller"
          "simulate"
          "--host"
          config.networking.primaryIPAddress
          "--port"
          (toString simPort)
          "--repo"
          repo
          "--token"
          "sim-token"
        ];
      };
      systemd.services.runner-controller = {
        after = [ "github-simulator.service" ];
        wants = [ "github-simulator.service" ];
      };

      services.runner-controller = {
        enable = true;
        inherit repo;
        tokenFile = "/etc/runner-controller/token";
        githubApiUrl = simUrl;
        labels = [
          "self-hosted"
          "nix"
        ];
        pollInterval = 1;
        maxConcurrent = 2;
        runnerNamePrefix = "vmtest";
        logLevel = "debug";
        nat.externalInterface = "eth1";
        container = {
          cpuQuota = "100%";
          memoryMax = "1G";
          tasksMax = 2048;
          startTimeout = 240;
          extraModules = [ { runnerJob.command = "${package}/bin/sim-runner"; } ];
        };
      };
    };

  testScript =
    { nodes, ... }:
    let
      sim = "http://${nodes.host.networking.primaryIPAddress}:${toString simPort}";
    in
    ''
      import json

      def containers():
          out = host.succeed("nixos-container list").split()
          return [n for n in out if n.startswith("j") and len(n) == 8]

      host.start()
      host.wait_for_unit("github-simulator.service")
      host.wait_for_unit("runner-controller.service")
      host.wait_until_succeeds("curl -sf http://127.0.0.1:8080/health | grep -x OK", timeout=120)

      with subtest("the daemon runs from a prebuilt container system, with the tools nixos-container needs"):
          env = dict(
              kv.split("=", 1)
              for kv in host.succeed("systemctl show -p Environment --value runner-controller.service").split()
          )
          assert env["CONTAINER_SYSTEM"].startswith("/nix/store/"), env
          host.succeed(f"test -x {env['CONTAINER_SYSTEM']}/init")
          for tool in ["nixos-container", "systemctl", "ip", "chattr"]:
              host.succeed(" || ".join(f"test -x {d}/{tool}" for d in env["PATH"].split(":")))

      with subtest("a queued job gets a container"):
          host.succeed(
              "curl -sf -X POST ${sim}/_sim/runs -H 'content-type: application/json' "
              + "-d '{\"jobs\":[{\"name\":\"build\",\"labels\":[\"self-hosted\",\"nix\"],\"durationMs\":30000}]}'"
          )
          host.wait_until_succeeds("nixos-container list | grep -E '^j[0-9]{7}$'", timeout=300)
          name = containers()[0]
          host.wait_until_succeeds(f"systemctl is-active container@{name}.service", timeout=300)
          host.succeed(f"test -f /run/systemd/nspawn/{name}.nspawn")
          host.succeed(f"grep -x 'SystemCallFilter=add_key keyctl bpf' /run/systemd/nspawn/{name}.nspawn")
          host.succeed(f"systemctl show -p MemoryMax container@{name}.service | grep -x MemoryMax=1073741824")
          host.succeed(f"systemctl show -p MemorySwapMax container@{name}.service | grep -x MemorySwapMax=0")
          host.succeed(f"grep -x 'LOCAL_ADDRESS=192.168.1[0-9][0-9].11' /etc/nixos-containers/{name}.conf")

      with subtest("the guest took its registration and runs the job as the runner user"):
          host.wait_until_succeeds(f"test ! -e /var/lib/nixos-containers/{name}/var/lib/runner-secret/runner.json", timeout=120)
          host.wait_until_succeeds(
              f"curl -sf '${sim}/_sim/state' | jq -e '.jobs[] | select(.status == \"in_progress\") | .runnerName' | grep vmtest-{name}",
              timeout=120,
          )
          host.succeed(f"systemctl -M {name} show -p User github-runner.service | grep -x User=runner")

      with subtest("restarting the daemon leaves the container running"):
          host.succeed("systemctl restart runner-controller.service")
          host.succeed(f"systemctl is-active container@{name}.service")
          host.wait_until_succeeds("curl -sf http://127.0.0.1:8080/health | grep -x OK", timeout=60)
          status = json.loads(host.succeed("curl -sf http://127.0.0.1:8080/status"))
          assert [c["name"] for c in status["active_containers"]] == [name], status

      with subtest("after the job the container powers off and is torn down completely"):
          host.wait_until_succeeds(
              "curl -sf '${sim}/_sim/state?all=1' | jq -e '.jobs | length == 1 and all(.status == \"completed\" and .conclusion == \"success\")'",
              timeout=300,
          )
          host.wait_until_fails(f"test -e /etc/nixos-containers/{name}.conf", timeout=300)
          host.succeed(f"test ! -e /var/lib/nixos-containers/{name}")
          host.succeed(f"test ! -e /run/systemd/nspawn/{name}.nspawn")
          host.succeed(f"test ! -e /run/systemd/system.control/container@{name}.service.d")
          host.succeed(f"! ip link show ve-{name}")
          host.succeed("test -z \"$(find /var/log/journal -maxdepth 1 -xtype l)\"")
          host.succeed(f"! systemctl is-failed container@{name}.service")
          host.wait_until_succeeds("curl -sf '${sim}/_sim/state' | jq -e '.runners | length == 0'", timeout=120)
          assert containers() == [], containers()
    '';
}
