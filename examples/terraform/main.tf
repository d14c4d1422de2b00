# A root module of your own that runs natgw's gateway as a module beside your
# resources. `natgw build examples/ha.yaml --out natgw` writes it to
# natgw/modules/prod-egress: no provider and no backend in it, so this root
# decides both, and count, for_each and depends_on work on it.

terraform {
  required_providers {
    hcloud = { source = "hetznercloud/hcloud", version = "~> 1.68" }
    tls    = { source = "hashicorp/tls", version = "~> 4.0" }
  }
}

variable "hcloud_token" {
  type      = string
  sensitive = true
}

variable "egress_enabled" {
  type    = bool
  default = true
}

provider "hcloud" {
  token = var.hcloud_token
}

# Your own network; the gateway joins it in place of the one its spec names.
resource "hcloud_network" "platform" {
  name     = "platform"
  ip_range = "10.0.0.0/16"
}

resource "hcloud_network_subnet" "platform" {
  network_id   = hcloud_network.platform.id
  type         = "cloud"
  network_zone = "eu-central"
  ip_range     = "10.0.1.0/24"
}

module "egress" {
  source   = "./natgw/modules/prod-egress"
  for_each = var.egress_enabled ? toset(["prod"]) : toset([])

  network_id          = hcloud_network.platform.id
  member_hcloud_token = var.hcloud_token
  # ssh_private_key unset: the push asks the SSH agent at apply; plan needs no key.

  depends_on = [hcloud_network_subnet.platform]
}

output "egress_ips" {
  description = "What partners allowlist."
  value       = { for name, gateway in module.egress : name => gateway.egress_ips }
}
