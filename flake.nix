{
  description = "runner-controller: on-demand, ephemeral GitHub Actions runners in NixOS containers";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
      });

      apps = forAllSystems (
        pkgs:
        let
          pkg = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          app = bin: {
            type = "app";
            program = "${pkg}/bin/${bin}";
          };
        in
        {
          default = app "runner-controller";
          # `nix run .#simulate -- --port 8090`: the GitHub simulator on its own.
          simulate = app "runner-controller" // {
            program = toString (
              pkgs.writeShellScript "runner-controller-simulate" ''exec ${pkg}/bin/runner-controller simulate "$@"''
            );
          };
          # `nix run .#demo`: simulator, daemon and simulated runners, about 20 seconds.
          demo = app "runner-controller" // {
            program = toString (pkgs.writeShellScript "runner-controller-demo" "exec ${pkg}/bin/runner-controller demo");
          };
        }
      );

      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.runner-controller.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      nixosModules.container-resource-limits = ./nix/container-resource-limits.nix;

      # The job containers' NixOS module, for building a system by hand or using it with
      # CONTAINER_TEMPLATE.
      nixosModules.ci-container-template = ./nix/ci-container-template.nix;

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        vm = pkgs.testers.runNixOSTest (import ./nix/vm-test.nix { inherit self; });
      });
    };
}
