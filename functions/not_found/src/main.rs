use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::runtime::start(
        "not_found",
        "every route no other function takes (404 ROUTE_NOT_FOUND)",
    );
    shared::runtime::serve(not_found::handle).await
}
