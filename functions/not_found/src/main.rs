use lambda_http::Error;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "not_found",
        "every route no other function takes (404 ROUTE_NOT_FOUND)",
    )?
    .block_on(async { shared::platform::runtime::serve(not_found::handle).await })
}
