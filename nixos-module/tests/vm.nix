# NixOS VM test (run by `nix flake check`, or `nix build .#checks.x86_64-linux.vm`): boots a machine
# with a sops secret, age secrets and a neededForUsers password, checks contents, owners, modes and
# links, then switches to a second configuration and checks the generation switch, the pruning and
# the restart of the unit whose secret changed. Test keys only (demo/keys, tests/fixtures).
{ pkgs }:
let
  # The plaintexts of the test files (see demo/ and tests/fixtures/ORIGIN).
  dbPassword = "correct horse battery staple";
  sopsSecret = "this is a secret";
  aliceHash = "$6$materialize$K/BpyFuMxd4XAFB3RXlqVcokgrxFzRrziQshCv6b8Qz6ATfSYDTWXnTLwHexVJprJZ4igMSjy3GJHbvXvcroD0";
in
pkgs.testers.runNixOSTest {
  name = "materialize";

  nodes.machine = { config, lib, ... }: {
    imports = [ ../default.nix ];

    # Keys belong on the machine, never in the store; for the test, an activation snippet copies
    # them to /var/lib before anything reads them (the neededForUsers run happens before `users`,
    # so before `etc`).
    system.activationScripts.materializeTestKeys = {
      deps = [ "specialfs" ];
      text = ''
        install -D -m 0400 ${../../demo/keys/demo.agekey} /var/lib/materialize-test/demo.agekey
        install -D -m 0400 ${./fixtures/sops/key.txt} /var/lib/materialize-test/sops.agekey
      '';
    };
    system.activationScripts.materializeSecretsForUsers.deps = [ "materializeTestKeys" ];

    users.mutableUsers = false;
    users.groups.app = { };
    users.users.alice = {
      isNormalUser = true;
      hashedPasswordFile = config.materialize.secrets.alice-password.path;
    };

    materialize = {
      age.keyFiles = [ "/var/lib/materialize-test/demo.agekey" "/var/lib/materialize-test/sops.agekey" ];
      defaultSopsFile = ./fixtures/sops/secret.enc.yaml;
      defaultSopsFormat = "yaml";
      secrets = {
        "db/password" = {
          age.file = ../../demo/secrets/db-password.age;
          owner = "alice";
          group = "app";
          mode = "0440";
          restartUnits = [ "consumer.service" ];
        };
        # No source named: the key "secret" of defaultSopsFile, as in sops-nix.
        secret = { group = "app"; mode = "0440"; };
        "nested/value" = {
          sops.key = "complex/value";
          owner = 4242; # no such user: as for DynamicUser= services
          path = "/var/lib/consumer/nested";
        };
        alice-password = {
          age.file = ./fixtures/alice-password.age;
          neededForUsers = true;
        };
      };
    };

    # Ordered after materialize-secrets.target by the module (restartUnits); counts its starts.
    systemd.services.consumer = {
      wantedBy = [ "multi-user.target" ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; };
      script = ''
        test -r /run/secrets/db/password
        echo started >> /var/lib/consumer-starts
      '';
    };

    specialisation.second.configuration = {
      materialize.secrets."db/password".mode = lib.mkForce "0400";
      materialize.secrets.api-token.age.file = ../../demo/secrets/api-token.age;
    };
  };

  testScript = ''
    def sh(command):
        return machine.succeed(command).strip()

    def owner_mode(path):
        return sh(f"stat -c '%U:%G %a' {path}")

    machine.wait_for_unit("multi-user.target")
    machine.succeed("systemctl is-active materialize-secrets.service materialize-secrets.target consumer.service")

    with subtest("first boot: generation 1 on ramfs, contents, owners, modes, links"):
        assert sh("readlink /run/secrets") == "/run/secrets.d/1"
        assert sh("findmnt -n -o FSTYPE /run/secrets.d") == "ramfs"
        assert owner_mode("/run/secrets.d") == "root:keys 751"
        assert machine.succeed("cat /run/secrets/db/password") == "${dbPassword}"
        assert owner_mode("/run/secrets/db/password") == "alice:app 440"
        assert machine.succeed("cat /run/secrets/secret") == "${sopsSecret}"
        assert owner_mode("/run/secrets/secret") == "root:app 440"
        assert machine.succeed("cat /run/secrets/nested/value") == "${sopsSecret}"
        assert sh("stat -c '%u %a' /run/secrets/nested/value") == "4242 400"
        assert sh("readlink /var/lib/consumer/nested") == "/run/secrets/nested/value"
        assert sh("grep -c started /var/lib/consumer-starts") == "1"
        machine.succeed("materialize status --config /etc/materialize/secrets.json")

    with subtest("neededForUsers: materialized before users, used as hashedPasswordFile"):
        assert sh("readlink /run/secrets-for-users").startswith("/run/secrets-for-users.d/")
        assert owner_mode("/run/secrets-for-users/alice-password") == "root:root 400"
        assert sh("getent shadow alice | cut -d: -f2") == "${aliceHash}"
        machine.fail("test -e /run/secrets/alice-password")

    second = sh("readlink -f /run/current-system/specialisation/second")

    with subtest("a switch that changes the manifest: generation 2, pruning, restart"):
        machine.succeed(f"{second}/bin/switch-to-configuration test")
        machine.succeed("systemctl is-active materialize-secrets.service materialize-secrets.target")
        assert sh("readlink /run/secrets") == "/run/secrets.d/2"
        machine.fail("test -e /run/secrets.d/1")  # keepGenerations = 1
        assert owner_mode("/run/secrets/db/password") == "alice:app 400"
        assert machine.succeed("cat /run/secrets/db/password") == "${dbPassword}"
        machine.succeed("test -s /run/secrets/api-token")
        # consumer.service's unit did not change: only the program's try-restart can start it again.
        machine.wait_until_succeeds("test $(grep -c started /var/lib/consumer-starts) -eq 2")

    with subtest("a switch that changes nothing does not re-run"):
        machine.succeed(f"{second}/bin/switch-to-configuration test")
        assert sh("readlink /run/secrets") == "/run/secrets.d/2"
        assert sh("grep -c started /var/lib/consumer-starts") == "2"
  '';
}
