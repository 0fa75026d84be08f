// Command testapp is the app of the node tests and the demo: a static
// binary in an image without a shell. It reads the secrets wisp-fetch wrote,
// logs in to PostgreSQL with the dynamic credential, and prints what a user
// would check, never a secret's value:
//
//	testapp [flags]   read files, log in, print lines like
//	                  "uid=10001 gids=[10001 65532]", "file config: 2 lines",
//	                  "current_user=v-jwt-app-..."
//	testapp pause     wait for SIGTERM (the pod sandbox image)
package main
